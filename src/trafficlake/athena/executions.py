"""Athena query executions: QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED, in the background.

:func:`start_query` records the execution in the catalog (the query history survives restarts)
and hands it to a small thread pool; each runs in its own :class:`AthenaSession`. Results go to
the output location as Athena writes them: ``<OutputLocation>/<id>.csv`` (SELECT, header first,
every field quoted) or ``<id>.txt`` (DDL output), each with a ``.metadata`` file (here: JSON of
the column infos). :func:`stop_query` cancels: a queued query never starts, a running one is
interrupted, and an INSERT cancelled before its catalog commit leaves nothing behind.

A stop and the worker meet under one lock (:data:`_STOP_LOCK`): the worker registers its
session before it marks the execution RUNNING (a stop never finds a RUNNING execution it cannot
interrupt), an interrupt only reaches the session while it still runs that execution, and the
check "stopped?" right before a write's catalog commit claims the commit (a later stop leaves
the execution to end SUCCEEDED, as its data is visible; it never turns CANCELLED into SUCCEEDED).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from trafficlake.athena.engine import AthenaSession, StatementResult, statement_kind
from trafficlake.athena.errors import (
    ENGINE_ERROR,
    RESULT_WRITE_ERROR,
    SYSTEM,
    AthenaQueryError,
)
from trafficlake.athena.results import (
    ColumnInfo,
    columns_from_metadata,
    csv_text,
    ddl_text,
    metadata_json,
    parse_csv,
    rows_as_text,
)
from trafficlake.athena.tables import lake_key
from trafficlake.athena.translate import bind_parameters
from trafficlake.catalog import Catalog, QueryExecution, open_catalog
from trafficlake.catalog.base import QUERY_ACTIVE_STATES
from trafficlake.config import Settings
from trafficlake.errors import TrafficlakeError
from trafficlake.owner import owner_alive
from trafficlake.storage import Lake, StorageError

WORK_GROUP = "primary"
WORKERS = 2
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
RESULTS_CACHED = 4
_RESULTS: OrderedDict[str, tuple[list[ColumnInfo], list[list[str | None]]]] = OrderedDict()
TOKENS_KEPT = 10_000
_TOKENS: OrderedDict[str, str] = OrderedDict()
_CATALOGS: dict[str, Catalog] = {}
_THREAD = threading.local()
_LIVE: dict[str, AthenaSession] = {}
"""Sessions of the executions running in this process (to interrupt them on stop)."""
_COMMITTING: set[str] = set()
"""Executions whose write passed its last stop check and commits (a stop no longer cancels)."""
_STOP_LOCK = threading.Lock()
"""Orders stops against the workers' registration, commit claims and release."""
_FINISHED: dict[str, threading.Event] = {}
"""Executions this process runs, until they end: :func:`wait_for` waits on them unpolled."""


class InvalidQueryRequest(TrafficlakeError):
    """A request Athena refuses (InvalidRequestException): no output location, bad work group."""


@dataclass
class ResultPage:
    columns: list[ColumnInfo]
    rows: list[list[str | None]]
    """The page's rows as text (the header row first on a SELECT's first page)."""
    next_token: str | None
    update_count: int | None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="athena")
        return _POOL


def shared_catalog(settings: Settings) -> Catalog:
    """One shared catalog per catalog URL for this process (its engine pools connections;
    opening a catalog per status poll would cost more than the poll)."""
    url = settings.catalog_url
    with _POOL_LOCK:
        cat = _CATALOGS.get(url)
        if cat is None:
            cat = _CATALOGS[url] = open_catalog(settings)
        return cat


def check_work_group(name: str) -> str:
    if name != WORK_GROUP:
        raise InvalidQueryRequest(f"WorkGroup {name} is not found.")
    return name


def start_query(
    settings: Settings,
    query: str,
    *,
    database: str = "default",
    catalog_name: str = "AwsDataCatalog",
    work_group: str = WORK_GROUP,
    output_location: str = "",
    parameters: Sequence[str] = (),
    client_token: str = "",
) -> QueryExecution:
    """Record a new execution (QUEUED) and run it in the background; returns it.
    ``parameters``: Athena's ExecutionParameters, bound into the query's ``?`` placeholders.
    ``client_token``: Athena's ClientRequestToken - a retried start (same token) returns the
    execution the first one created (remembered by this process)."""
    if client_token:
        with _POOL_LOCK:
            known = _TOKENS.get(client_token)
        if known is not None:
            return get_query(settings, known)
    check_work_group(work_group)
    if parameters:
        try:
            query = bind_parameters(query, parameters)
        except AthenaQueryError as exc:
            raise InvalidQueryRequest(exc.reason) from None
    if not output_location:
        raise InvalidQueryRequest(
            "No output location provided. An output location is required either through the "
            "Workgroup result configuration setting or as an API input."
        )
    if catalog_name.lower() != "awsdatacatalog":
        raise InvalidQueryRequest(f"Catalog {catalog_name} is not found.")
    qid = str(uuid.uuid4())
    kind, sub = statement_kind(query)
    ext = "csv" if kind != "DDL" or sub == "CREATE_TABLE_AS_SELECT" else "txt"
    execution = QueryExecution(
        id=qid,
        query=query,
        statement_type=kind,
        substatement_type=sub,
        database=database,
        catalog=catalog_name,
        work_group=work_group,
        output_location=f"{output_location.rstrip('/')}/{qid}.{ext}",
        submitted_at=time.time(),
    )
    shared_catalog(settings).create_query_execution(execution)
    with _POOL_LOCK:
        _FINISHED[qid] = threading.Event()
    if client_token:
        with _POOL_LOCK:
            _TOKENS[client_token] = qid
            while len(_TOKENS) > TOKENS_KEPT:
                _TOKENS.popitem(last=False)
    _pool().submit(_run, settings, qid)
    return execution


def _run(settings: Settings, qid: str) -> None:
    try:
        _execute(settings, qid)
    finally:
        with _POOL_LOCK:
            finished = _FINISHED.pop(qid, None)
        if finished is not None:
            finished.set()


def _execute(settings: Settings, qid: str) -> None:
    cat = shared_catalog(settings)
    execution = cat.get_query_execution(qid)
    if execution.state != "QUEUED":
        return
    started = time.time()
    lake = Lake.from_settings(settings)
    wrote = False
    try:
        session = _session(settings, cat, lake)
        session.database, session.query_id = execution.database.lower(), qid
        with _STOP_LOCK:  # registered first: a stop that sees RUNNING can interrupt it
            _LIVE[qid] = session
        execution.state = "RUNNING"
        if not cat.update_query_execution(execution, only_if_active=True):
            return  # stopped while queued: it never starts
        result = session.execute(execution.query, cancelled=lambda: _stopped_or_commit(cat, qid))
        wrote = result.update_count is not None
        _write_results(settings, lake, execution, result)
        execution.state = "SUCCEEDED"
        execution.statistics = _statistics(execution, started, result)
    except AthenaQueryError as exc:
        _fail(execution, exc)
    except Exception as exc:  # an engine bug must still end the execution
        _fail(execution, AthenaQueryError("GENERIC_INTERNAL_ERROR", str(exc) or type(exc).__name__,
                                          error_type=ENGINE_ERROR, category=SYSTEM))  # fmt: skip
        _drop_session(settings, lake)  # its state is unknown: the next run opens a fresh one
    finally:
        with _STOP_LOCK:
            _LIVE.pop(qid, None)
            _COMMITTING.discard(qid)
    execution.completed_at = time.time()
    if not execution.statistics:
        execution.statistics = _statistics(execution, started, None)
    # a write that committed succeeded even if a stop arrived meanwhile
    cat.update_query_execution(execution, only_if_active=not wrote)


def _session(settings: Settings, cat: Catalog, lake: Lake) -> AthenaSession:
    """This worker thread's session for this catalog and lake (one DuckDB connection, reused:
    every statement re-points the views it reads at the catalog's current partitions)."""
    sessions: dict[str, AthenaSession] = _THREAD.__dict__.setdefault("sessions", {})
    key = f"{settings.catalog_url} {lake.url}"
    if key not in sessions:
        sessions[key] = AthenaSession(settings, cat, lake)
    return sessions[key]


def _drop_session(settings: Settings, lake: Lake) -> None:
    sessions: dict[str, AthenaSession] = _THREAD.__dict__.get("sessions", {})
    session = sessions.pop(f"{settings.catalog_url} {lake.url}", None)
    if session is not None:
        session.close()


def _stopped_or_commit(cat: Catalog, qid: str) -> bool:
    """A write's last check before its catalog commit: True if the execution was stopped;
    otherwise the commit is claimed (a stop from now on leaves the execution running to
    SUCCEEDED: its data becomes visible)."""
    with _STOP_LOCK:
        if cat.get_query_execution(qid).state == "CANCELLED":
            return True
        _COMMITTING.add(qid)
        return False


def _fail(execution: QueryExecution, exc: AthenaQueryError) -> None:
    execution.state = "FAILED"
    execution.reason = exc.reason
    execution.error = {
        "ErrorCategory": exc.category,
        "ErrorType": exc.error_type,
        "Retryable": False,
        "ErrorMessage": exc.reason,
    }


def _statistics(
    execution: QueryExecution, started: float, result: StatementResult | None
) -> dict[str, object]:
    now = time.time()
    engine = int((now - started) * 1000)
    queued = int((started - (execution.submitted_at or started)) * 1000)
    out: dict[str, object] = {
        "EngineExecutionTimeInMillis": engine,
        "DataScannedInBytes": result.bytes_scanned if result else 0,
        "TotalExecutionTimeInMillis": engine + queued,
        "QueryQueueTimeInMillis": queued,
        "ServicePreProcessingTimeInMillis": 0,
        "QueryPlanningTimeInMillis": 0,
        "ServiceProcessingTimeInMillis": 0,
        "ResultReuseInformation": {"ReusedPreviousResult": False},
    }
    if result is not None and result.update_count is not None:
        out["UpdateCount"] = result.update_count
    return out


def result_key(settings: Settings, lake: Lake, execution: QueryExecution) -> str:
    """The lake key of an execution's result file."""
    folder, _, name = execution.output_location.rpartition("/")
    return lake_key(settings, lake, folder) + name


def _write_results(
    settings: Settings, lake: Lake, execution: QueryExecution, result: StatementResult
) -> None:
    key = result_key(settings, lake, execution)
    columns = result.columns
    rows = rows_as_text(result.table, columns) if result.table is not None else iter(())
    if key.endswith(".txt"):
        body = ddl_text(rows)
    else:
        body = csv_text([c.name for c in columns] if result.table is not None else None, rows)
    try:
        lake.put_atomic(key, body.encode())
        lake.put_atomic(key + ".metadata", metadata_json(columns))
    except (OSError, StorageError) as exc:
        raise AthenaQueryError("HIVE_FILESYSTEM_ERROR", f"cannot write the query results: {exc}",
                               error_type=RESULT_WRITE_ERROR, category=SYSTEM) from None  # fmt: skip


def get_query(settings: Settings, qid: str) -> QueryExecution:
    """Raises NoSuchQueryExecutionError. An execution left QUEUED/RUNNING by a process that no
    longer exists (killed, crashed, restarted) is reported FAILED from then on."""
    cat = shared_catalog(settings)
    execution = cat.get_query_execution(qid)
    if execution.state in QUERY_ACTIVE_STATES and not owner_alive(execution.owner):
        _fail(execution, AthenaQueryError(
            "GENERIC_INTERNAL_ERROR", f"the process running the query ({execution.owner}) exited",
            error_type=ENGINE_ERROR, category=SYSTEM))  # fmt: skip
        execution.completed_at = time.time()
        cat.update_query_execution(execution, only_if_active=True)
        execution = cat.get_query_execution(qid)
    return execution


def list_queries(
    settings: Settings, *, work_group: str = WORK_GROUP, limit: int = 50, offset: int = 0
) -> list[QueryExecution]:
    check_work_group(work_group)
    return shared_catalog(settings).list_query_executions(
        work_group=work_group, limit=limit, offset=offset
    )


def stop_query(settings: Settings, qid: str) -> QueryExecution:
    """Cancel a queued or running execution (a finished one is left as it is)."""
    cat = shared_catalog(settings)
    with _STOP_LOCK:
        execution = cat.get_query_execution(qid)
        if execution.state in QUERY_ACTIVE_STATES and qid not in _COMMITTING:
            execution.state = "CANCELLED"
            execution.reason = "USER_CANCELED: Query was canceled by user"
            execution.completed_at = time.time()
            if cat.update_query_execution(execution, only_if_active=True):
                with _POOL_LOCK:
                    finished = _FINISHED.get(qid)
                if finished is not None:  # CANCELLED is final: waiters need not wait the worker
                    finished.set()
                if qid in _LIVE:
                    threading.Thread(target=_interrupt, args=(qid,), daemon=True).start()
    return cat.get_query_execution(qid)


def _interrupt(qid: str, every: float = 0.05, limit: float = 30.0) -> None:
    """Interrupt the execution's DuckDB work until its worker lets go of it (an interrupt that
    lands between two statements is lost, so it is repeated). Under the lock the worker
    releases the session with, so an interrupt never reaches the session's next execution."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with _STOP_LOCK:
            session = _LIVE.get(qid)
            if session is None or qid in _COMMITTING:  # done, or committing: let it finish
                return
            session.interrupt()
        time.sleep(every)


def query_results(
    settings: Settings, qid: str, *, max_results: int = 1000, next_token: str | None = None
) -> ResultPage:
    """One page of an execution's results (InvalidQueryRequest unless it SUCCEEDED)."""
    execution = get_query(settings, qid)
    if execution.state != "SUCCEEDED":
        raise InvalidQueryRequest(f"Query has not yet finished. Current state: {execution.state}")
    columns, rows = _read_results(settings, execution)
    try:
        start = int(next_token) if next_token else 0
    except ValueError:
        raise InvalidQueryRequest(f"invalid NextToken {next_token!r}") from None
    end = start + max(1, min(max_results, 1000))
    update = execution.statistics.get("UpdateCount")
    return ResultPage(
        columns=columns,
        rows=rows[start:end],
        next_token=str(end) if end < len(rows) else None,
        update_count=int(update) if update is not None else None,
    )


def _read_results(
    settings: Settings, execution: QueryExecution
) -> tuple[list[ColumnInfo], list[list[str | None]]]:
    """An execution's result file, parsed once (the last few stay cached: paging reads them
    again and again, and a finished execution's results never change)."""
    with _POOL_LOCK:
        cached = _RESULTS.get(execution.id)
    if cached is not None:
        return cached
    lake = Lake.from_settings(settings)
    key = result_key(settings, lake, execution)
    try:
        columns = columns_from_metadata(lake.read_bytes(key + ".metadata"))
        data = lake.read_bytes(key).decode()
    except StorageError as exc:
        raise InvalidQueryRequest(f"the query's results are gone: {exc}") from None
    if key.endswith(".txt"):
        rows: list[list[str | None]] = [list(line.split("\t")) for line in data.splitlines()]
    else:
        rows = parse_csv(data)
    with _POOL_LOCK:
        _RESULTS[execution.id] = (columns, rows)
        while len(_RESULTS) > RESULTS_CACHED:
            _RESULTS.popitem(last=False)
    return columns, rows


def wait_for(settings: Settings, qid: str, *, timeout: float = 600.0) -> QueryExecution:
    """Wait until the execution leaves QUEUED/RUNNING (for tests and the CLI): one this
    process runs is waited on (its worker signals the end), any other is polled."""
    deadline = time.monotonic() + timeout
    with _POOL_LOCK:
        finished = _FINISHED.get(qid)
    if finished is not None:
        finished.wait(timeout)
    while True:
        execution = get_query(settings, qid)
        if execution.state not in QUERY_ACTIVE_STATES or time.monotonic() > deadline:
            return execution
        time.sleep(0.01)
