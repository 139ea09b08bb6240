"""Backfill read set: rebuilding one day of a 30-day lake reads <= 1.2x the files that hold it;
a daily run after one new day writes <= 1.05x that day's rows.

The lake is what the delivery stream lands: one raw file per arrival hour for 30 days, from the
simulator's dirty feed (lve groups republishing a minute 20-150 days old as stale rows,
``actueel_publicatie = 0``, in every file - the real feed's mix). The baseline is measured in
the same run: the files that hold current rows of the day (the day's own minutes, and the
previous evening's last 19 minutes its look-back needs), found by reading every file.
Also shown: the read set by the whole event-time range (what stale rows widen), for
comparison.

Daily run: two simulated days landed one after the other (each day's last minutes arrive after
midnight, in the next day's first hour), an incremental transform after each; the second run's
rows written against the rows of the new day in the output (the same run's result).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trafficlake.catalog import open_catalog
from trafficlake.catalog.crawler import ensure_default_crawlers, run_crawler
from trafficlake.catalog.names import RAW
from trafficlake.config import load_settings
from trafficlake.miv.simulator import Simulator
from trafficlake.schema import EVENT_TIME_COLUMN, RAW_SCHEMA, STALE_FLAG_COLUMN
from trafficlake.storage import Lake
from trafficlake.transform.plan import day_start, plan_transform
from trafficlake.transform.sql import LOOKBACK_SECONDS

DAYS = 30
FIRST = date(2026, 10, 1)
BACKFILL = FIRST + timedelta(days=14)
TARGET = 1.2
DAILY_TARGET = 1.05


def _no_probe(keys: object) -> tuple[set[int], set[int]]:
    raise AssertionError("an explicit backfill needs no probe")


def _land(lake: Lake, lanes: int, step_min: int) -> None:
    """One file per arrival hour; a minute arrives at its publication + 2 s."""
    sim = Simulator(seed=11, lanes=lanes, clean=False)
    start = day_start(FIRST)
    for hour in range(DAYS * 24):
        t0 = start + hour * 3600
        batches = [sim.minute(t) for t in range(t0, t0 + 3600, step_min * 60)]
        events = pa.Table.from_batches(batches)
        arrival = pc.multiply(pc.add(events["tijd_publicatie"], 2), 1000).cast(pa.int64())
        table = events.append_column(RAW_SCHEMA.field("arrival_time"), arrival).cast(RAW_SCHEMA)
        d = datetime.fromtimestamp(t0 + 120, UTC)  # the hour its documents arrive in
        key = f"raw/year={d.year}/month={d.month}/day={d.day}/hour={d.hour}/miv-{t0}.parquet"
        with lake.open_atomic(key) as out:
            pq.write_table(table, out)


def _holding(lake: Lake, lo: int, hi: int) -> set[str]:
    """Files holding current rows with event time in [lo, hi], by reading them."""
    out = set()
    for entry in lake.list("raw/"):
        t = pq.read_table(lake.path(entry.key), columns=[EVENT_TIME_COLUMN, STALE_FLAG_COLUMN])
        current = pc.fill_null(pc.not_equal(t[STALE_FLAG_COLUMN], 0), True)
        times = t[EVENT_TIME_COLUMN].filter(current)
        inside = pc.and_(pc.greater_equal(times, lo), pc.less_equal(times, hi))
        if pc.any(inside).as_py():
            out.add(entry.key)
    return out


def _daily(root: Path, lanes: int) -> tuple[int, int]:
    """Rows the second daily run wrote, and the new day's rows in the output."""
    from trafficlake.query import run_query
    from trafficlake.transform import run_transform

    settings = load_settings(
        None,
        environ={},
        overrides={
            "lake": {"url": str(root / "daily")},
            "catalog": {"url": f"sqlite:///{root / 'daily.db'}"},
        },
    )
    lake = Lake.from_settings(settings)
    sim = Simulator(seed=5, lanes=lanes, clean=False)
    written = 0
    for day in (FIRST, FIRST + timedelta(days=1)):
        start = day_start(day)
        table = pa.Table.from_batches(list(sim.minutes(start, 1440)))
        arrival = pc.multiply(pc.add(table["tijd_publicatie"], 2), 1000).cast(pa.int64())
        table = table.append_column(RAW_SCHEMA.field("arrival_time"), arrival).cast(RAW_SCHEMA)
        hours = pc.divide(table["arrival_time"], 3_600_000)
        for hour in sorted(set(hours.to_pylist())):
            d = datetime.fromtimestamp(hour * 3600, UTC)
            key = f"raw/year={d.year}/month={d.month}/day={d.day}/hour={d.hour}/{start}-{hour}.parquet"
            with lake.open_atomic(key) as out:
                pq.write_table(table.filter(pc.equal(hours, hour)), out)
        with open_catalog(settings) as cat:
            ensure_default_crawlers(cat, settings)
            assert run_crawler(settings, "raw", catalog=cat, lake=lake).status == "SUCCEEDED"
        run = run_transform(settings)
        assert run.state == "SUCCEEDED", run.error
        written = run.result["rows_written"]
    new_day = day_start(FIRST + timedelta(days=1))
    count = run_query(
        settings,
        "SELECT count(*) FROM traffic.transformed WHERE recordTimestamp >= "
        f"{new_day} AND recordTimestamp < {new_day + 86400}",
    ).rows[0][0]
    return written, int(count)


def run(quick: bool) -> list[dict[str, Any]]:
    lanes, step = (60, 15) if quick else (300, 5)
    with tempfile.TemporaryDirectory(prefix="tl-bench-backfill-") as tmp:
        root = Path(tmp)
        settings = load_settings(
            None,
            environ={},
            overrides={
                "lake": {"url": str(root / "lake")},
                "catalog": {"url": f"sqlite:///{root / 'catalog.db'}"},
            },
        )
        lake = Lake.from_settings(settings)
        _land(lake, lanes, step)
        start = day_start(BACKFILL)
        with open_catalog(settings) as cat:
            ensure_default_crawlers(cat, settings)
            assert run_crawler(settings, "raw", catalog=cat, lake=lake).status == "SUCCEEDED"
            plan = plan_transform(cat, _no_probe, start_day=BACKFILL, end_day=BACKFILL)
            read = set(plan.chunks[0].input_keys)
            window = (start - LOOKBACK_SECONDS, start + 86399)
            by_range = cat.list_partitions(*RAW, overlapping=(EVENT_TIME_COLUMN, *window))
            whole_range = {f.key for p in by_range for f in p.files}
        holding = _holding(lake, *window)
        total = len(lake.list("raw/"))
        written, day_rows = _daily(root, lanes)
    assert holding <= read, "the read set misses files that hold the day"
    ratio = len(read) / len(holding)
    return [
        {"name": f"files in the lake ({DAYS} days)", "value": total, "unit": "files"},
        {"name": "files holding the day (baseline)", "value": len(holding), "unit": "files"},
        {
            "name": "backfill read set (current-row ranges)",
            "value": len(read),
            "unit": "files",
            "baseline": len(holding),
            "ratio": ratio,
            "target": f"<= {TARGET}",
            "ok": ratio <= TARGET,
        },
        {
            "name": "read set by whole ranges (stale rows widen)",
            "value": len(whole_range),
            "unit": "files",
            "ratio": len(whole_range) / len(holding),
        },
        {
            "name": "daily run: rows written (vs the new day's rows)",
            "value": written,
            "unit": "rows",
            "baseline": day_rows,
            "ratio": written / day_rows,
            "target": f"<= {DAILY_TARGET}",
            "ok": written / day_rows <= DAILY_TARGET,
        },
    ]
