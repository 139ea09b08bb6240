"""Keeping ``jams`` and ``detector_health`` current: incremental, like the transform.

A run (job ``roads``, recorded as a ``JobRun``; one at a time) rebuilds whole UTC days:

- incremental (default): the bookmark ``{"version": N}`` names the highest version of the
  transformed table's partitions already consumed; the days of the partitions changed since
  are rebuilt (the transform's bookmark works the same way over the raw table);
- explicit: ``start_day..end_day`` (inclusive); the bookmark stays where it is.

Per day: jams from the day's transformed section-minutes and the sections of the lake's
locations table (:mod:`~trafficlake.roads.jams`), detector health from the raw rows of that day
(the transform's read set; :mod:`~trafficlake.roads.health`). Each table is published with the
transform's commit protocol (:func:`trafficlake.transform.commit.publish`: staged files, ONE
compare-and-set catalog commit per table, replaced files deleted after it); the bookmark moves
with the last commit, so a run killed in between is redone whole by the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trafficlake.catalog import Catalog, NoSuchTableError, open_catalog
from trafficlake.catalog.names import (
    TableRef,
    lake_table,
    partition_folder,
    raw_table,
    transformed_table,
)
from trafficlake.config import Settings
from trafficlake.errors import TrafficlakeError, first_line
from trafficlake.query import file_uris
from trafficlake.roads.health import (
    HEALTH_COLUMNS,
    HEALTH_INPUT_SCHEMA,
    HealthRules,
    health_input_sql,
)
from trafficlake.roads.health import day_health as health_of
from trafficlake.roads.jams import JAMS_COLUMNS, JamRules, day_grid, find_jams
from trafficlake.roads.sections import read_sections
from trafficlake.sqlquote import quote_literal
from trafficlake.storage import Lake
from trafficlake.transform import commit
from trafficlake.transform.commit import Layout
from trafficlake.transform.engine import StagedFile
from trafficlake.transform.plan import day_start, publication_read_set, requested_days
from trafficlake.transform.runs import begin_run

JOB = "roads"
DAY_KEYS = ("year", "month", "day")
JAMS_LAYOUT = Layout("jams/", JAMS_COLUMNS, DAY_KEYS, "start_ts", "trafficlake.roads")
HEALTH_LAYOUT = Layout("detector_health/", HEALTH_COLUMNS, DAY_KEYS, None, "trafficlake.roads")
GRID_COLUMNS = "lve_nr, recordTimestamp, currentSpeed, avgSpeed3Minutes, vehicleCount"
HEALTH_BATCH_ROWS = 1 << 23
"""Rows per Arrow batch of the health pass's input: a Flanders day (~6.9M rows) in one, so that
numpy joins few batches."""


class RoadsError(TrafficlakeError):
    """A roads derivation that could not run."""


def jams_table(settings: Settings) -> TableRef:
    """The jams table: ``[catalog] database`` and ``table_prefix`` + ``jams``."""
    return lake_table(settings, JAMS_LAYOUT.prefix)


def health_table(settings: Settings) -> TableRef:
    """The detector health table: ``[catalog] database`` and ``table_prefix`` +
    ``detector_health``."""
    return lake_table(settings, HEALTH_LAYOUT.prefix)


def jam_rules(settings: Settings) -> JamRules:
    r = settings.roads
    return JamRules(
        threshold_kmh=settings.transform.jam_threshold_kmh,
        enter_minutes=r.jam_enter_minutes,
        exit_minutes=r.jam_exit_minutes,
        free_flow_kmh=r.free_flow_kmh,
    )


def health_rules(settings: Settings) -> HealthRules:
    return HealthRules(settings.roads.stuck_minutes, settings.roads.min_valid_share)


@dataclass
class DeriveResult:
    run_id: str
    state: str
    days: list[str] = field(default_factory=list)
    jams: int = 0
    detectors: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


Progress = Callable[[int, int, str], None]


def derive(
    settings: Settings,
    *,
    start_day: date | None = None,
    end_day: date | None = None,
    reset_bookmark: bool = False,
    progress: Progress | None = None,
) -> DeriveResult:
    """Rebuild the jams and detector health of the days that changed (or the days asked)."""
    explicit = requested_days(start_day=start_day, end_day=end_day, since=None)
    args = {
        "start_day": start_day.isoformat() if start_day else None,
        "end_day": end_day.isoformat() if end_day else None,
        "reset_bookmark": reset_bookmark,
    }
    with open_catalog(settings) as catalog:
        run = begin_run(catalog, args, job=JOB)
        t0 = time.perf_counter()
        result = DeriveResult(run.id, "RUNNING")
        try:
            _derive(settings, catalog, run.id, explicit, reset_bookmark, result, progress)
            run.state = result.state = "SUCCEEDED"
        except Exception as exc:
            run.state = result.state = "FAILED"
            run.error = result.error = f"{type(exc).__name__}: {first_line(exc)}"
        result.seconds = round(time.perf_counter() - t0, 3)
        run.result = {
            "days": result.days,
            "jams": result.jams,
            "detectors": result.detectors,
            "notes": result.notes,
            "seconds": result.seconds,
        }
        run.ended_at = time.time()
        catalog.update_job_run(run)
    return result


def _derive(
    settings: Settings,
    catalog: Catalog,
    run_id: str,
    explicit: list[date] | None,
    reset_bookmark: bool,
    result: DeriveResult,
    progress: Progress | None,
) -> None:
    lake = Lake.from_settings(settings)
    jams_ref, health_ref = jams_table(settings), health_table(settings)
    commit.clean_stale_runs(catalog, lake, keep=run_id, table=jams_ref, layout=JAMS_LAYOUT)
    commit.clean_stale_runs(catalog, lake, keep=run_id, table=health_ref, layout=HEALTH_LAYOUT)
    transformed = transformed_table(settings)
    try:
        catalog.get_table(*transformed)
    except NoSuchTableError:
        result.notes.append(f"no table {transformed} yet: run the transform first")
        return
    bookmark: tuple[str, dict[str, Any]] | None = None
    if explicit is not None:
        days = explicit
    else:
        state = None if reset_bookmark else catalog.get_bookmark(JOB)
        version = int((state or {}).get("version", 0))
        changed = catalog.list_partitions(*transformed, changed_since=version)
        keys = [k.name for k in catalog.get_table(*transformed).partition_keys]
        days = sorted({_partition_day(p.as_dict(keys)) for p in changed})
        new_version = max([version, *(p.version for p in changed)])
        bookmark = (JOB, {"version": new_version, "run_id": run_id})
        result.notes.append(
            f"{len(changed)} transformed partition(s) changed since version {version}: "
            f"{len(days)} day(s) to rebuild"
        )
    sections = read_sections(lake)
    if sections is None:
        result.notes.append("no locations table in the lake: jams need the sections (skipped)")
    jams_staged: list[StagedFile] = []
    health_staged: list[StagedFile] = []
    # a day's jams are found in a second thread while its health is counted on the grid: both
    # are mostly single-threaded numpy, so each gets a core (and its own DuckDB connection)
    health_con = _connect(settings, lake)
    jams_con = _connect(settings, lake)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="roads-jams") as pool:
            for i, day in enumerate(days):
                if progress is not None:
                    progress(i, len(days), day.isoformat())
                values = (str(day.year), str(day.month), str(day.day))
                start = day_start(day)
                keys = publication_read_set(catalog, start, start + 86400, raw_table(settings))
                rows = health_rows(health_con, lake, keys, day)
                found = None
                if sections is not None:
                    keys = transformed_keys(catalog, transformed, day)
                    rules = jam_rules(settings)
                    found = pool.submit(day_jams, jams_con, lake, keys, sections, day, rules)
                health = health_of(rows, health_rules(settings))
                result.detectors += health.num_rows
                health_staged += _stage(lake, HEALTH_LAYOUT, run_id, values, health)
                if found is not None:
                    jams = found.result()
                    result.jams += jams.num_rows
                    jams_staged += _stage(lake, JAMS_LAYOUT, run_id, values, jams)
    finally:
        health_con.close()
        jams_con.close()
    if progress is not None:
        progress(len(days), len(days), "committing")
    if sections is not None:
        commit.publish(
            catalog, lake, run_id, jams_staged, days, bookmark=None, table=jams_ref,
            layout=JAMS_LAYOUT,
        )  # fmt: skip
    if days or bookmark is not None:
        commit.publish(
            catalog, lake, run_id, health_staged, days, bookmark=bookmark, table=health_ref,
            layout=HEALTH_LAYOUT,
        )  # fmt: skip
    result.days = [d.isoformat() for d in days]


def _partition_day(values: dict[str, str]) -> date:
    return date(int(values["year"]), int(values["month"]), int(values["day"]))


def _connect(
    settings: Settings, lake: Lake, *, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    # neither the jams nor health depend on the order of the rows read (about a third less CPU
    # for the health input's read)
    con.execute("SET preserve_insertion_order = false")
    if not lake.is_local:
        from trafficlake.s3 import configure_duckdb

        configure_duckdb(con, settings)
    return con


def _read_parquet(keys: Sequence[str], lake: Lake, columns: str = "*") -> str:
    files = ", ".join(quote_literal(u) for u in file_uris(lake, keys))
    return (
        f"(SELECT {columns} FROM read_parquet([{files}], union_by_name = true, "
        "hive_partitioning = false))"
    )


def transformed_keys(catalog: Catalog, transformed: TableRef, day: date) -> list[str]:
    """The files of the transformed table's partitions of one UTC day (from the catalog)."""
    parts = catalog.list_partitions(
        *transformed, where={"year": day.year, "month": day.month, "day": day.day}
    )
    return [f.key for p in parts for f in p.files]


def day_jams(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    keys: Sequence[str],
    sections: pa.Table,
    day: date,
    rules: JamRules,
) -> pa.Table:
    """The jam episodes of one UTC day from the transformed files of that day."""
    start = day_start(day)
    lve = sections.column("lve_nr").to_numpy()
    if not keys:
        return find_jams(day_grid(pa.table({}), lve, start), sections, rules)
    minutes = con.sql(f"SELECT * FROM {_read_parquet(keys, lake, GRID_COLUMNS)}").to_arrow_table()
    return find_jams(day_grid(minutes, lve, start), sections, rules)


def health_rows(
    con: duckdb.DuckDBPyConnection, lake: Lake, raw_keys: Sequence[str], day: date
) -> pa.Table:
    """The per-row facts detector health counts (:func:`health_input_sql`) of one UTC day,
    from the raw files that may hold its rows. Read through a relation: DuckDB then hands the
    rows to Arrow on all its threads (an ``execute()`` result does it on one: 2.5 s against
    1.3 s for a Flanders day on 2 threads)."""
    if not raw_keys:
        return HEALTH_INPUT_SCHEMA.empty_table()
    sql = health_input_sql(_read_parquet(raw_keys, lake), day_start(day))
    return con.sql(sql).to_arrow_table(HEALTH_BATCH_ROWS)


def _stage(
    lake: Lake, layout: Layout, run_id: str, values: tuple[str, ...], table: pa.Table
) -> list[StagedFile]:
    """Write one partition's rows to the run's staging folder (nothing when there are none)."""
    if table.num_rows == 0:
        return []
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    data = sink.getvalue().to_pybytes()
    folder = partition_folder(commit.staging_key(run_id, 0, layout), layout.partition_keys, values)
    key = f"{folder}part-0.parquet"
    lake.put_atomic(key, data)
    stats: dict[str, tuple[Any, Any]] = {}
    if layout.stats_column:
        column = table.column(layout.stats_column)
        stats[layout.stats_column] = (
            pc.min(column).as_py(),
            pc.max(column).as_py(),
        )
    return [StagedFile(key, values, len(data), table.num_rows, stats)]
