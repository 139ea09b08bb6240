"""Catalog benchmarks: crawl and query cost O(what is new or asked), not O(lake).

(a) One new hour in a lake of N hour partitions: a ``new_folders_only`` crawl vs an
    ``everything`` crawl of the same lake and catalog state (both measured here).
(b) A one-location-one-day query through the catalog (pruned to that day's partitions) vs the
    same question answered by DuckDB reading the whole lake.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from trafficlake.catalog import open_catalog
from trafficlake.catalog.crawler import ensure_default_crawlers, run_crawler
from trafficlake.config import Settings, load_settings
from trafficlake.miv.simulator import Simulator
from trafficlake.query import run_query
from trafficlake.schema import RAW_SCHEMA
from trafficlake.storage import Lake

LANES = 6
MINUTES_PER_FILE = 5
START = int(datetime(2026, 10, 23, tzinfo=UTC).timestamp())


def _write_hour(lake: Lake, sim: Simulator, t: int) -> None:
    d = datetime.fromtimestamp(t, UTC)
    events = pa.Table.from_batches(list(sim.minutes(t, MINUTES_PER_FILE)))
    arrival = pa.array([(t + 120) * 1000] * events.num_rows, pa.int64())
    table = events.append_column(RAW_SCHEMA.field("arrival_time"), arrival).cast(RAW_SCHEMA)
    key = f"raw/year={d.year}/month={d.month}/day={d.day}/hour={d.hour}/miv-{t}.parquet"
    with lake.open_atomic(key) as out:
        pq.write_table(table, out)


def _settings(root: Path, catalog: str) -> Settings:
    return load_settings(
        None,
        environ={},
        overrides={
            "lake": {"url": str(root / "lake")},
            "catalog": {"url": f"sqlite:///{root / catalog}"},
        },
    )


def _crawl(settings: Settings, lake: Lake, policy: str) -> float:
    with open_catalog(settings) as cat:
        ensure_default_crawlers(cat, settings)
        cat.update_crawler(replace(cat.get_crawler("raw"), recrawl_policy=policy))
        t0 = time.perf_counter()
        run = run_crawler(settings, "raw", catalog=cat, lake=lake)
        elapsed = time.perf_counter() - t0
    if run.status != "SUCCEEDED":
        raise RuntimeError(f"crawl failed: {run.error_message}")
    return elapsed


def _median(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def run(quick: bool) -> list[dict[str, Any]]:
    days = 7 if quick else 30
    hours = days * 24
    small = hours // 4
    repeat = 5
    root = Path(tempfile.mkdtemp(prefix="trafficlake-bench-catalog-"))
    try:
        inc, every, cold = (
            _settings(root, n) for n in ("incremental.db", "everything.db", "cold.db")
        )
        lake = Lake.from_settings(inc)
        sim = Simulator(11, LANES, clean=True)
        t0 = time.perf_counter()
        for h in range(small):
            _write_hour(lake, sim, START + 3600 * h)
        _crawl(inc, lake, "everything")
        inc_small = []
        for h in range(small, small + repeat):  # new hours in a quarter-size lake
            _write_hour(lake, sim, START + 3600 * h)
            inc_small.append(_crawl(inc, lake, "new_folders_only"))
        for h in range(small + repeat, hours):
            _write_hour(lake, sim, START + 3600 * h)
        build_s = time.perf_counter() - t0
        _crawl(inc, lake, "new_folders_only")
        _crawl(every, lake, "everything")
        inc_s, every_s = [], []
        for h in range(hours, hours + repeat):  # one new hour at a time in the full lake
            _write_hour(lake, sim, START + 3600 * h)
            inc_s.append(_crawl(inc, lake, "new_folders_only"))
            every_s.append(_crawl(every, lake, "everything"))
        cold_s = _crawl(cold, lake, "everything")
        n_parts = hours + repeat
        t_inc, t_small, t_every = (statistics.median(x) for x in (inc_s, inc_small, every_s))

        # (b) one location, one day
        day = datetime.fromtimestamp(START + 86400 * (days // 2), UTC)
        lo = int(day.timestamp())
        day_filter = f"year = {day.year} AND month = {day.month} AND day = {day.day}"
        uid = run_query(inc, f"SELECT min(unieke_id) FROM traffic.raw WHERE {day_filter}").rows[0][
            0
        ]
        where = f"unieke_id = {uid} AND tijd_waarneming >= {lo} AND tijd_waarneming < {lo + 86400}"
        pruned_sql = (
            "SELECT count(*), avg(voertuigsnelheid_rekenkundig_klasse2) FROM traffic.raw "
            f"WHERE {day_filter} AND {where}"
        )
        glob = lake.uri("raw") + "/*/*/*/*/*.parquet"
        direct_sql = (
            "SELECT count(*), avg(voertuigsnelheid_rekenkundig_klasse2) FROM "
            f"read_parquet('{glob}', hive_partitioning = true, union_by_name = true) WHERE {where}"
        )

        def pruned() -> Any:
            return run_query(inc, pruned_sql)

        def direct() -> Any:
            con = duckdb.connect()
            try:
                return con.execute(direct_sql).fetchall()
            finally:
                con.close()

        pruned_s, pres = _median(pruned, 5)
        direct_s, dres = _median(direct, 5)
        if [tuple(r) for r in pres.rows] != [tuple(r) for r in dres] or not dres[0][0]:
            raise RuntimeError(f"pruned and direct answers differ: {pres.rows} vs {dres}")
        files_read = len(pres.files_read)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    query_target: dict[str, Any] = (
        {} if quick else {"target": "<= 0.5 of whole-lake read", "ok": pruned_s <= 0.5 * direct_s}
    )
    return [
        {
            "name": f"lake build ({n_parts} hour files, {LANES} lanes)",
            "value": build_s,
            "unit": "s",
        },
        {
            "name": f"crawl 1 new hour of {n_parts} (new_folders_only)",
            "value": t_inc,
            "unit": "s",
            "baseline": cold_s,
            "ratio": t_inc / cold_s,
            "target": "<= 0.25 of a full cold crawl",
            "ok": t_inc <= 0.25 * cold_s,
        },
        {
            "name": f"full cold crawl of {n_parts} partitions (baseline)",
            "value": cold_s,
            "unit": "s",
        },
        {
            "name": "  vs everything recrawl (re-lists, reuses footers)",
            "value": t_every,
            "unit": "s",
            "baseline": t_every,
            "ratio": t_inc / t_every,
        },
        {
            "name": f"  vs same crawl in a {small}-partition lake",
            "value": t_small,
            "unit": "s",
            "baseline": t_small,
            "ratio": t_inc / t_small,
            "target": "<= 2 for 4x the partitions",
            "ok": t_inc <= 2 * t_small,
        },
        {
            "name": f"1 location x 1 day via catalog ({files_read} files)",
            "value": pruned_s,
            "unit": "s",
            "baseline": direct_s,
            "ratio": pruned_s / direct_s,
            **query_target,
        },
        {
            "name": f"same via DuckDB over the whole lake ({n_parts} files)",
            "value": direct_s,
            "unit": "s",
        },
    ]
