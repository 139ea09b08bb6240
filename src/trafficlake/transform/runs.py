"""Transform runs: foreground (:func:`run_transform`) or background (:func:`start_transform`),
recorded as ``JobRun`` rows (job ``transform``) that the workflow polls like the seed polls
Athena. One run at a time; a run left RUNNING by a dead process is marked FAILED on the next
start.
"""

from __future__ import annotations

import os
import posixpath
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from trafficlake.catalog import Catalog, JobRun, JobRunningError, NoSuchTableError, open_catalog
from trafficlake.catalog.names import TableRef, raw_table, transformed_table
from trafficlake.config import Settings
from trafficlake.owner import owner_alive, owner_id
from trafficlake.storage import Lake
from trafficlake.transform import commit
from trafficlake.transform.engine import (
    ENGINES,
    Engine,
    StagedFile,
    TransformError,
    UnknownEngineError,
    open_engine,
)
from trafficlake.transform.input_types import check_input_types
from trafficlake.transform.plan import (
    JOB,
    Chunk,
    TransformPlan,
    plan_transform,
    requested_days,
)
from trafficlake.transform.sql import render_traffic_sql


class TransformRunningError(TransformError):
    """Another transform run is RUNNING in a live process."""


@dataclass(frozen=True)
class TransformProgress:
    stage: str
    """plan | chunk | commit | done"""
    done: int
    total: int
    message: str = ""


ProgressCallback = Callable[[TransformProgress], None]

_ACTIVE: set[str] = set()
"""Ids of the runs this process is executing."""


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def commit_landed(catalog: Catalog, run: JobRun, table: TableRef | None) -> bool:
    """Whether ``run``'s one catalog commit landed: the job's bookmark names the run, or
    ``table`` lists files it wrote (final keys are ``<partition>/<run id>-<n>.parquet``).
    A commit that only deleted partitions of an explicit range leaves neither trace."""
    if (catalog.get_bookmark(run.job) or {}).get("run_id") == run.id:
        return True
    if table is None:
        return False
    try:
        parts = catalog.list_partitions(*table)
    except NoSuchTableError:
        return False
    mark = f"{run.id}-"
    return any(posixpath.basename(f.key).startswith(mark) for p in parts for f in p.files)


def begin_run(
    catalog: Catalog, arguments: dict[str, Any], *, job: str = JOB, table: TableRef | None = None
) -> JobRun:
    """Close dead RUNNING runs of ``job`` (SUCCEEDED when their commit landed - see
    :func:`commit_landed` on ``table`` - else FAILED), refuse when a live one exists, record a
    new RUNNING run - the last step atomically in the catalog, so of two concurrent starts
    exactly one runs."""
    for run in catalog.list_job_runs(job, limit=100):
        if run.state != "RUNNING":
            continue
        alive = run.id in _ACTIVE if run.owner == owner_id() else owner_alive(run.owner)
        if alive:
            raise TransformRunningError(f"{job} run {run.id} is still running (owner {run.owner})")
        died = f"owner process {run.owner} died while the run was RUNNING"
        if commit_landed(catalog, run, table):
            run.state = "SUCCEEDED"
            run.result = {**run.result, "note": f"{died}, after its commit landed"}
        else:
            run.state, run.error = "FAILED", died
        run.ended_at = time.time()
        catalog.update_job_run(run)
    run = JobRun(
        id=new_run_id(),
        job=job,
        state="RUNNING",
        arguments=arguments,
        started_at=time.time(),
        owner=owner_id(),
    )
    _ACTIVE.add(run.id)  # before it is visible: a thread of this process must see it alive
    try:
        return catalog.create_job_run(run, exclusive=True)
    except JobRunningError as exc:
        _ACTIVE.discard(run.id)
        raise TransformRunningError(str(exc)) from None
    except BaseException:
        _ACTIVE.discard(run.id)
        raise


def _validate(
    start_day: date | None, end_day: date | None, since: date | None, engine: str
) -> None:
    """Reject bad input before a run is recorded."""
    requested_days(start_day=start_day, end_day=end_day, since=since)
    if engine not in ENGINES:
        raise UnknownEngineError(
            f"unknown transform engine {engine!r}: use one of {', '.join(ENGINES)}"
        )


def _arguments(
    start_day: date | None,
    end_day: date | None,
    since: date | None,
    reset_bookmark: bool,
    engine: str,
) -> dict[str, Any]:
    return {
        "start_day": start_day.isoformat() if start_day else None,
        "end_day": end_day.isoformat() if end_day else None,
        "since": since.isoformat() if since else None,
        "reset_bookmark": reset_bookmark,
        "engine": engine,
    }


def execute(
    settings: Settings,
    catalog: Catalog,
    run: JobRun,
    *,
    progress: ProgressCallback | None = None,
) -> JobRun:
    """Do the work of a recorded run and record its end (SUCCEEDED or FAILED)."""
    report = progress or (lambda p: None)
    t0 = time.perf_counter()
    try:
        result = _transform(settings, catalog, run, report)
        result["seconds"] = round(time.perf_counter() - t0, 3)
        run.state, run.result = "SUCCEEDED", result
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        seconds = round(time.perf_counter() - t0, 3)
        if _landed_safely(catalog, run, transformed_table(settings)):
            # the data is published: a later step (cleanup, totals) failing does not undo it
            run.state = "SUCCEEDED"
            run.result = {"seconds": seconds, "note": f"committed; a later step failed: {error}"}
        else:
            run.state, run.error = "FAILED", error
            run.result = {"seconds": seconds, "error": error}
    run.ended_at = time.time()
    try:
        catalog.update_job_run(run)
    finally:
        _ACTIVE.discard(run.id)
    _emit_job_event(settings, catalog, run)
    report(TransformProgress("done", 1, 1, run.state))
    return run


def _emit_job_event(settings: Settings, catalog: Catalog, run: JobRun) -> None:
    """EventBridge's ``Glue Job State Change`` for the Glue job this run belongs to."""
    from trafficlake.events.bus import emit
    from trafficlake.transform.glue_jobs import job_of_run

    detail = {
        "jobName": job_of_run(catalog, run)[0],
        "severity": "INFO" if run.state == "SUCCEEDED" else "ERROR",
        "state": run.state,
        "jobRunId": run.id,
        "message": run.error or f"Job run {run.state.lower()}",
    }
    emit(settings, "aws.glue", "Glue Job State Change", detail)


def _landed_safely(catalog: Catalog, run: JobRun, table: TableRef) -> bool:
    try:
        return commit_landed(catalog, run, table)
    except Exception:  # the catalog itself is failing: the run cannot be shown to have landed
        return False


def _transform(
    settings: Settings, catalog: Catalog, run: JobRun, report: ProgressCallback
) -> dict[str, Any]:
    args = run.arguments
    lake = Lake.from_settings(settings)
    cfg = settings.transform
    parallelism = max(1, cfg.parallelism)
    cores = os.cpu_count() or 1
    raw, transformed = raw_table(settings), transformed_table(settings)
    commit.clean_stale_runs(catalog, lake, keep=run.id, table=transformed)
    if args.get("reset_bookmark"):
        catalog.reset_bookmark(JOB)
    engine_name = args.get("engine") or cfg.engine
    plan = plan_transform(
        catalog,
        _days_of_files(settings, lake, engine_name, cores),
        chunk_days=cfg.chunk_days,
        start_day=_date(args.get("start_day")),
        end_day=_date(args.get("end_day")),
        since=_date(args.get("since")),
        reset_bookmark=bool(args.get("reset_bookmark")),
        raw=raw,
    )
    cast_note = check_input_types(
        lake, sorted({k for c in plan.chunks for k in c.input_keys}), allow=cfg.allow_lossy_casts
    )
    if cast_note:
        plan.notes.append(cast_note)
    report(TransformProgress("plan", 0, len(plan.chunks), "; ".join(plan.notes)))
    staged: list[StagedFile] = []
    if plan.chunks:
        # chunks at once: at most `parallelism`; each gets its share of cores and memory
        at_once = min(parallelism, len(plan.chunks))
        engine = open_engine(
            engine_name,
            settings,
            lake,
            threads=max(1, cores // at_once),
            parallel_chunks=at_once,
        )
        try:
            staged = _run_chunks(settings, lake, engine, run.id, plan, at_once, report)
        finally:
            engine.close()
    result: dict[str, Any] = {
        "mode": plan.mode,
        "days": [d.isoformat() for d in plan.rebuilt_days],
        "chunks": len(plan.chunks),
        "notes": plan.notes,
        "engine": engine_name,
        "rows_written": 0,
        "partitions_written": 0,
        "partitions_deleted": 0,
        "partitions_replaced": 0,
    }
    bookmark = (JOB, {**plan.bookmark, "run_id": run.id}) if plan.bookmark else None
    if not plan.chunks:
        stored = catalog.get_bookmark(JOB) or {}
        if bookmark is not None and bookmark[1]["version"] != stored.get("version"):
            catalog.put_bookmark(*bookmark)
        lake.delete_prefix(f"{commit.STAGING}{run.id}")
        return result
    report(TransformProgress("commit", 0, 1, "committing"))
    done = commit.publish(
        catalog,
        lake,
        run.id,
        staged,
        plan.rebuilt_days,
        bookmark=bookmark,
        table=transformed,
        from_hours=plan.from_hours,
    )
    report(TransformProgress("commit", 1, 1, f"committed version {done.version}"))
    result.update(
        rows_written=done.rows_written,
        partitions_written=done.partitions_written,
        partitions_deleted=done.partitions_deleted,
        partitions_replaced=done.partitions_replaced,
        files_written=done.files_written,
        files_replaced=done.files_replaced,
        catalog_version=done.version,
    )
    return result


def _run_chunks(
    settings: Settings,
    lake: Lake,
    engine: Engine,
    run_id: str,
    plan: TransformPlan,
    parallelism: int,
    report: ProgressCallback,
) -> list[StagedFile]:
    cfg = settings.transform

    def one(chunk: Chunk) -> list[StagedFile]:
        sql = render_traffic_sql(
            start=chunk.start,
            end=chunk.end,
            jam_threshold=cfg.jam_threshold_kmh,
            locations=cfg.locations,
        )
        out = lake.uri(commit.staging_key(run_id, chunk.index))
        return engine.run(sql, [lake.uri(k) for k in chunk.input_keys], out)

    staged: list[StagedFile] = []
    workers = parallelism if engine.concurrent_chunks else 1
    total = len(plan.chunks)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="transform-chunk") as pool:
        for i, files in enumerate(pool.map(one, plan.chunks), start=1):
            staged += files
            chunk = plan.chunks[i - 1]
            report(TransformProgress("chunk", i, total, f"{chunk.days[0]} ({len(files)} files)"))
    return staged


def _days_of_files(
    settings: Settings, lake: Lake, engine_name: str, threads: int
) -> Callable[[Sequence[str]], tuple[set[int], set[int]]]:
    """Planning's exact-days probe, run by the run's own engine (Spark reads on its
    executors, not in the driver)."""

    def days(keys: Sequence[str]) -> tuple[set[int], set[int]]:
        probe = open_engine(engine_name, settings, lake, threads=threads)
        try:
            return probe.event_days([lake.uri(k) for k in keys])
        finally:
            probe.close()

    return days


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


# ---- public API --------------------------------------------------------------------------------


def run_transform(
    settings: Settings,
    *,
    start_day: date | None = None,
    end_day: date | None = None,
    since: date | None = None,
    reset_bookmark: bool = False,
    engine: str | None = None,
    progress: ProgressCallback | None = None,
) -> JobRun:
    """Run a transform in this thread; returns the finished JobRun (SUCCEEDED or FAILED)."""
    with open_catalog(settings) as catalog:
        run = _begin(settings, catalog, start_day, end_day, since, reset_bookmark, engine)
        return execute(settings, catalog, run, progress=progress)


def _begin(
    settings: Settings,
    catalog: Catalog,
    start_day: date | None,
    end_day: date | None,
    since: date | None,
    reset_bookmark: bool,
    engine: str | None,
    glue_job: str | None = None,
) -> JobRun:
    """Check the arguments and record the new RUNNING run (:func:`begin_run`)."""
    name = engine or settings.transform.engine
    _validate(start_day, end_day, since, name)
    arguments = _arguments(start_day, end_day, since, reset_bookmark, name)
    if glue_job:
        arguments["glue_job"] = glue_job
    return begin_run(catalog, arguments, table=transformed_table(settings))


def explain_transform(
    settings: Settings,
    *,
    start_day: date | None = None,
    end_day: date | None = None,
    since: date | None = None,
    reset_bookmark: bool = False,
    engine: str | None = None,
    catalog: Catalog | None = None,
) -> TransformPlan:
    """The plan a run would make, each chunk's read set explained; no run is recorded and
    nothing is written or created (the bookmark stays as it is). ``catalog``: one already
    open (a reader's), else the configured one is opened."""
    name = engine or settings.transform.engine
    _validate(start_day, end_day, since, name)
    lake = Lake.from_settings(settings, create=False)
    with open_catalog(settings) if catalog is None else nullcontext(catalog) as catalog:
        return plan_transform(
            catalog,
            _days_of_files(settings, lake, name, os.cpu_count() or 1),
            chunk_days=settings.transform.chunk_days,
            start_day=start_day,
            end_day=end_day,
            since=since,
            reset_bookmark=reset_bookmark,
            raw=raw_table(settings),
            explain=True,
        )


def start_transform(
    settings: Settings,
    *,
    start_day: date | None = None,
    end_day: date | None = None,
    since: date | None = None,
    reset_bookmark: bool = False,
    engine: str | None = None,
    wait: bool = False,
    glue_job: str | None = None,
) -> JobRun:
    """Start a transform in a background thread of this process; poll
    ``catalog.get_job_run(run.id)``. With ``wait`` it returns the finished run. ``glue_job``:
    the Glue job the run is started as (recorded with its arguments)."""
    with open_catalog(settings) as catalog:
        run = _begin(settings, catalog, start_day, end_day, since, reset_bookmark, engine, glue_job)

    def work() -> None:
        try:
            with open_catalog(settings) as own:
                execute(settings, own, run)
        finally:
            _ACTIVE.discard(run.id)

    thread = threading.Thread(target=work, name=f"transform-{run.id}", daemon=False)
    thread.start()
    if wait:
        thread.join()
        with open_catalog(settings) as catalog:
            return catalog.get_job_run(run.id)
    return run
