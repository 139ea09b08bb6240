"""Simulate a full day of 4,600 lanes (1,440 minutes ≈ 6.6M rows) as Arrow: aim < 15 s.

Baseline in the same run: drawing the same number of Poisson counts and normal noise values
with numpy (the random numbers a minute needs, without any traffic model or Arrow building).
Quick mode simulates 120 minutes and scales to a day. Times are CPU time of this process.
"""

from __future__ import annotations

import time

import numpy as np

from trafficlake.miv.simulator import Simulator

LANES = 4600
START = 1767571200  # 2026-01-05T00:00:00Z, a Monday
TARGET_S = 15.0


def run(quick: bool) -> list[dict[str, object]]:
    minutes = 120 if quick else 1440
    out: list[dict[str, object]] = []
    for clean in (True, False):
        sim = Simulator(seed=42, lanes=LANES, clean=clean)
        t0 = time.process_time()
        rows = sum(b.num_rows for b in sim.minutes(START, minutes))
        elapsed = (time.process_time() - t0) * 1440 / minutes
        rng = np.random.default_rng(0)
        t0 = time.process_time()
        for _ in range(minutes):
            rng.poisson(3.0, (LANES, 5))
            rng.normal(0, 1, (LANES, 5))
            rng.normal(0, 1, (LANES, 5))
        baseline = (time.process_time() - t0) * 1440 / minutes
        out.append(
            {
                "name": f"simulate a day, {LANES} lanes, clean={clean} ({rows * 1440 // minutes} rows)",
                "value": elapsed,
                "unit": "s",
                "baseline": baseline,
                "ratio": elapsed / baseline,
                "target": f"< {TARGET_S:.0f} s",
                "ok": elapsed < TARGET_S,
            }
        )
    return out
