"""Replay of full documents (4,600 lanes, gzip): in worker processes >= 1.8x one process on
2 cores, landing the same rows.

Baseline in the same run: the same replay with ``workers=1`` (read, gunzip, parse and land in
this process). Documents are simulated minutes rendered as MIV XML; quick mode replays 24 of
them instead of 120. Wall-clock times (the work is spread over processes).
"""

from __future__ import annotations

import gzip
import os
import tempfile
import time
from pathlib import Path

from trafficlake import ingest
from trafficlake.config import load_settings
from trafficlake.miv.simulator import Simulator
from trafficlake.storage import Lake

LANES = 4600
START = 1767600000  # 2026-01-05T08:00:00Z, a Monday morning
TARGET_RATIO = 1.8


def run(quick: bool) -> list[dict[str, object]]:
    count = 24 if quick else 120
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="tl-bench-replay-") as tmp:
        base = Path(tmp)
        docs = base / "docs"
        docs.mkdir()
        sim = Simulator(42, LANES)
        for i, batch in enumerate(sim.minutes(START, count)):
            with gzip.open(docs / f"{i:04d}.xml.gz", "wb", compresslevel=6) as f:
                f.write(sim.to_xml(batch))
        settings = load_settings(None, overrides={"lake": {"url": str(base / "lake")}})
        times: dict[int, float] = {}
        events: dict[int, int] = {}
        for n in (1, workers):
            lake = Lake.from_url(str(base / f"lake-{n}"))
            t0 = time.perf_counter()
            report = ingest.replay(
                settings, [str(docs / "*.xml.gz")], simulated_arrival=True, lake=lake, workers=n
            )
            times[n] = time.perf_counter() - t0
            events[n] = report.events
    ratio = times[1] / times[workers]
    return [
        {"name": f"replay {count} documents, 1 process", "value": times[1], "unit": "s"},
        {
            "name": f"replay {count} documents, {workers} workers ({events[workers]:,} events)",
            "value": times[workers],
            "unit": "s",
            "baseline": times[1],
            "ratio": ratio,
            "target": f">= {TARGET_RATIO}x",
            "ok": ratio >= TARGET_RATIO and events[1] == events[workers],
        },
    ]
