"""Transform benchmarks (docs/architecture.md, "Quality bars").

(a) full day: a day of simulated Flanders (4,600 lanes x 1,440 minutes ~ 6.6M raw rows, plus
    one hour of look-back) landed as raw Parquet in arrival-hour partitions and crawled. Timed:
    our transform (plan + DuckDB + staged commit, ``run_transform --from D --to D``) vs the
    seed's query (transpiled Presto -> DuckDB by sqlglot, exact division, no lane filter) as a
    DuckDB ``COPY ... PARTITION_BY`` over the same files; the write is included in both.
(b) incremental: a daily run (one new day landed and crawled) on a 30-day lake vs the same run
    on a 1-day lake, 200 lanes (kept small so the 30-day lake builds in reasonable time).
``--quick``: 300 lanes for (a); a 2-day lake of 20 lanes for (b).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "transform"))

from seed_query import seed_select_duckdb, seed_source_connection  # noqa: E402
from transform_lakes import DAY, T0, LakeHarness, day_of, with_arrival  # noqa: E402

from trafficlake.config import load_settings  # noqa: E402
from trafficlake.miv.simulator import Simulator  # noqa: E402
from trafficlake.storage import Lake  # noqa: E402
from trafficlake.transform import run_transform  # noqa: E402


def _harness(root: str) -> LakeHarness:
    os.chdir(root)
    settings = load_settings(None, overrides={"transform": {"memory_limit": "3GB"}})
    return LakeHarness(settings, Lake.from_settings(settings))


def _land_day(tl: LakeHarness, sim: Simulator, start: int, minutes: int = 1440) -> int:
    rows = 0
    for hour in range(0, minutes, 60):
        import pyarrow as pa

        batch = pa.Table.from_batches(list(sim.minutes(start + hour * 60, min(60, minutes - hour))))
        tl.land(with_arrival(batch))
        rows += batch.num_rows
    return rows


def full_day(quick: bool) -> list[dict[str, Any]]:
    lanes = 300 if quick else 4600
    with tempfile.TemporaryDirectory() as root:
        tl = _harness(root)
        sim = Simulator(seed=42, lanes=lanes, clean=False)
        rows = _land_day(tl, sim, T0 - 3600, 60) + _land_day(tl, sim, T0)
        tl.crawl()
        d = day_of(T0)

        t0 = time.perf_counter()
        run = run_transform(tl.settings, start_day=d, end_day=d)
        ours = time.perf_counter() - t0
        assert run.state == "SUCCEEDED", run.error

        files = [tl.lake.path(e.key) for e in tl.lake.list("raw/")]
        out = os.path.join(root, "seed-out")
        t0 = time.perf_counter()
        con = seed_source_connection(
            files, settings=["memory_limit = '3GB'", "enable_progress_bar = false"]
        )
        sql = seed_select_duckdb(
            source="seed_source",
            year=d.year,
            month=d.month,
            start_day=d.day,
            end_day=d.day,
            lanes=None,
        )
        con.execute(
            f"COPY ({sql}) TO '{out}' (FORMAT parquet, COMPRESSION zstd, "
            "PARTITION_BY (year, month, day, hour))"
        )
        con.close()
        seed = time.perf_counter() - t0
    return [
        {
            "name": f"full day ({lanes} lanes, {rows:,} raw rows): ours",
            "value": round(ours, 2),
            "unit": "s",
            "baseline": round(seed, 2),
            "ratio": round(ours / seed, 2),
            "target": 1.5,
            "ok": ours / seed <= 1.5,
        },
        {"name": "full day: rows written", "value": run.result["rows_written"], "unit": "rows"},
    ]


def _daily_lake(root: str, days: int, lanes: int) -> tuple[LakeHarness, dict[str, Any]]:
    """A lake of ``days`` days, transformed, plus one new day landed and crawled; returns it
    with the bookmark before the daily run."""
    tl = _harness(root)
    sim = Simulator(seed=7, lanes=lanes, clean=False)
    for i in range(days):
        _land_day(tl, sim, T0 - (days - i) * DAY)
    tl.crawl()
    assert run_transform(tl.settings).state == "SUCCEEDED"
    _land_day(tl, sim, T0)
    tl.crawl()
    with tl.catalog() as cat:
        bookmark = cat.get_bookmark("transform") or {}
    return tl, bookmark


def _daily_run(tl: LakeHarness, bookmark: dict[str, Any]) -> tuple[float, int]:
    os.chdir(tl.settings.base_dir)
    with tl.catalog() as cat:
        cat.put_bookmark("transform", bookmark)
    t0 = time.perf_counter()
    run = run_transform(tl.settings)
    seconds = time.perf_counter() - t0
    assert run.state == "SUCCEEDED", run.error
    return seconds, len(run.result["days"])


def incremental(quick: bool) -> list[dict[str, Any]]:
    days, lanes = (2, 20) if quick else (30, 200)
    with tempfile.TemporaryDirectory() as r1, tempfile.TemporaryDirectory() as r30:
        small_lake = _daily_lake(r1, 1, lanes)
        big_lake = _daily_lake(r30, days, lanes)
        small = big = float("inf")
        # the same daily run (bookmark put back each time), alternating the two lakes so
        # that load from elsewhere hits both alike; best of 5 (quick: 3)
        for _ in range(3 if quick else 5):
            s, small_days = _daily_run(*small_lake)
            b, big_days = _daily_run(*big_lake)
            small, big = min(small, s), min(big, b)
    return [
        {
            "name": f"incremental daily run, {days}-day lake vs 1-day lake ({lanes} lanes; "
            f"rebuilt {big_days} vs {small_days} days)",
            "value": round(big, 3),
            "unit": "s",
            "baseline": round(small, 3),
            "ratio": round(big / small, 2),
            "target": 1.3,
            "ok": big / small <= 1.3,
        },
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    cwd = os.getcwd()
    try:
        return full_day(quick) + incremental(quick)
    finally:
        os.chdir(cwd)
