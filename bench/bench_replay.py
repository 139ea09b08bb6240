"""Replay of full documents (4,600 lanes, gzip): in worker processes >= 1.8x one process on
2 cores, landing the same lake.

Baseline in the same run: the same replay with ``workers=1`` (read, gunzip, parse and land in
this process). The two are alternated, 2 rounds (so that load from elsewhere hits both alike):
best of each, and the median of the rounds' ratios. Documents are simulated minutes rendered as
MIV XML; quick mode replays 24 of them instead of 120. Wall-clock times (the work is spread over
processes); the landing process's own CPU time in the worker runs is reported apart, and the
CPU time of all processes in the worker run against the one-process run (on 2 free cores the
ratio can reach 2 / that; under load from other sessions it cannot show, as the kernel shares
the CPU between sessions, not processes). ``ok`` also needs the two lakes to hold the same rows
in the same partition folders.
"""

from __future__ import annotations

import gzip
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trafficlake import ingest
from trafficlake.config import load_settings
from trafficlake.miv.simulator import Simulator
from trafficlake.storage import Lake

LANES = 4600
START = 1767600000  # 2026-01-05T08:00:00Z, a Monday morning
TARGET_RATIO = 1.8
ROUNDS = 2


def _cpu_with_children() -> float:
    """CPU seconds of this process and its finished children (the forked workers, once the
    replay has joined them)."""
    me, children = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _content(lake: Lake) -> dict[str, pa.Table]:
    """Each raw partition folder's rows, sorted (file names carry a random suffix)."""
    folders: dict[str, list[pa.Table]] = {}
    for entry in lake.list("raw/"):
        folders.setdefault(entry.key.rsplit("/", 1)[0], []).append(
            pq.read_table(lake.path(entry.key))
        )
    keys = ["unieke_id", "tijd_waarneming", "arrival_time"]
    return {
        folder: pa.concat_tables(tables).sort_by([(k, "ascending") for k in keys])
        for folder, tables in folders.items()
    }


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
        settings = load_settings(
            None,
            overrides={
                "lake": {"url": str(base / "lake")},
                "delivery": {"wal_dir": str(base / "wal")},
            },
        )
        times: dict[int, list[float]] = {1: [], workers: []}
        landing_cpu: list[float] = []
        cpu: dict[int, list[float]] = {1: [], workers: []}
        events: dict[int, int] = {}
        lakes: dict[int, Lake] = {}
        for round_ in range(ROUNDS):
            for n in (1, workers):
                lakes[n] = Lake.from_url(str(base / f"lake-{n}-{round_}"))
                t0, cpu0, all0 = time.perf_counter(), time.process_time(), _cpu_with_children()
                report = ingest.replay(
                    settings,
                    [str(docs / "*.xml.gz")],
                    simulated_arrival=True,
                    lake=lakes[n],
                    workers=n,
                )
                times[n].append(time.perf_counter() - t0)
                cpu[n].append(_cpu_with_children() - all0)
                if n > 1:
                    landing_cpu.append(time.process_time() - cpu0)
                events[n] = report.events
        same_lake = _content(lakes[1]) == _content(lakes[workers])
    one, many = min(times[1]), min(times[workers])
    ratio = one / many
    median_ratio = statistics.median(a / b for a, b in zip(times[1], times[workers], strict=True))
    return [
        {"name": f"replay {count} documents, 1 process", "value": one, "unit": "s"},
        {
            "name": f"replay {count} documents, {workers} workers ({events[workers]:,} events)",
            "value": many,
            "unit": "s",
            "baseline": one,
            "ratio": ratio,
            "target": f">= {TARGET_RATIO}x",
            "ok": ratio >= TARGET_RATIO and events[1] == events[workers] and same_lake,
        },
        {"name": "  median of the rounds' ratios", "value": median_ratio, "unit": "x"},
        {"name": "  landing process CPU (workers run)", "value": min(landing_cpu), "unit": "s"},
        {
            "name": "  CPU of all processes, workers run vs 1 process",
            "value": min(cpu[workers]) / min(cpu[1]),
            "unit": "x",
        },
        {"name": "  same rows in the same partitions", "value": int(same_lake), "unit": "bool"},
    ]
