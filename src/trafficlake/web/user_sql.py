"""User SQL (``POST /api/query``): sandboxed, bounded, and never starving the dashboard.

Every statement runs in its own DuckDB connection that may read only the lake (a folder or an
``s3://`` prefix) and cannot change its configuration, with

- a memory limit (``web.query_memory_limit``) and a private temporary folder for spilling,
  created per query outside the lake (so the sandbox cannot read it), capped at
  ``web.query_temp_limit`` and removed afterwards;
- a timeout (``web.query_timeout_s``) that covers everything from parsing and pruning to the
  last row: the query runs on a worker thread, the request waits at most that long, then
  interrupts DuckDB and answers ``query interrupted after N s``;
- a bounded pool: at most ``web.query_workers`` statements run at once, on threads of their
  own (the dashboard's requests never wait for them); up to ``web.query_queue`` more wait
  ``web.query_queue_wait_s`` for a turn, the rest - and those whose wait runs out - get
  ``503`` with ``Retry-After``;
- a request body limit (``web.max_body_bytes``, every route): a larger body is refused with
  ``413`` before it is read.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from trafficlake.config import WebSettings
from trafficlake.errors import TrafficlakeError, first_line
from trafficlake.plain import jsonable
from trafficlake.query import (
    CatalogConnection,
    LakeFilesMissingError,
    QueryError,
    connect,
    python_values,
)
from trafficlake.sqlquote import quote_literal
from trafficlake.web.api import MAX_LIMIT, check_limit
from trafficlake.web.context import WebContext
from trafficlake.web.data import BadRequestError


class QueryRequest(BaseModel):
    sql: str
    limit: int | None = None


@dataclass
class UserQueryResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    files_read: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SqlLimits:
    timeout_s: float
    memory_limit: str
    temp_limit: str
    workers: int
    queue: int
    queue_wait_s: float

    @classmethod
    def from_settings(cls, web: WebSettings, timeout_s: float | None = None) -> SqlLimits:
        return cls(
            timeout_s=web.query_timeout_s if timeout_s is None else timeout_s,
            memory_limit=web.query_memory_limit,
            temp_limit=web.query_temp_limit,
            workers=max(1, web.query_workers),
            queue=max(0, web.query_queue),
            queue_wait_s=web.query_queue_wait_s,
        )


class BusyError(TrafficlakeError):
    """Every query worker is busy and the queue is full (or the wait ran out): 503."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def sandbox(con: CatalogConnection, temp_dir: str, limits: SqlLimits) -> None:
    """Let user SQL read only the lake, within memory and temporary-disk limits; no other
    files, no configuration changes."""
    root = con.lake.uri("").rstrip("/") + "/"
    threads = max(1, (os.cpu_count() or 1) // limits.workers)
    for setting in (
        f"SET memory_limit = {quote_literal(limits.memory_limit)}",
        f"SET temp_directory = {quote_literal(temp_dir)}",
        f"SET max_temp_directory_size = {quote_literal(limits.temp_limit)}",
        f"SET threads = {threads}",
    ):
        con.duckdb.execute(setting)
    con.duckdb.execute("SET allowed_directories = ?", [[root]])
    con.duckdb.execute("SET enable_external_access = false")
    con.duckdb.execute("SET lock_configuration = true")


def fetch(con: CatalogConnection, sql: str, limit: int) -> UserQueryResult:
    """Run a read-only statement (ReadOnlyQueryError for writes); at most ``limit`` rows."""
    cur = con.execute(sql)
    columns = [d[0] for d in cur.description or []]
    rows: list[list[Any]] = []
    if cur.description:
        # Arrow, not fetchmany: Python conversion of TIMESTAMPTZ would need pytz
        reader = cur.to_arrow_reader(min(limit + 1, 2048))
        for batch in reader:
            cols = [python_values(n, c) for n, c in zip(columns, batch.columns, strict=True)]
            rows.extend([list(r) for r in zip(*cols, strict=True)])
            if len(rows) > limit:
                break
    return UserQueryResult(
        columns=columns,
        rows=[jsonable(r) for r in rows[:limit]],
        truncated=len(rows) > limit,
        files_read=list(con.files_read),
    )


class _Job:
    """One statement on a worker thread; :meth:`interrupt` may come from the event loop."""

    def __init__(self, ctx: WebContext, sql: str, limit: int, limits: SqlLimits) -> None:
        self.ctx, self.sql, self.limit, self.limits = ctx, sql, limit, limits
        self._lock = threading.Lock()
        self._con: CatalogConnection | None = None
        self._interrupted = False

    def interrupt(self) -> None:
        with self._lock:
            self._interrupted = True
            if self._con is not None:
                self._con.duckdb.interrupt()

    def run(self) -> UserQueryResult:
        temp_dir = tempfile.mkdtemp(prefix="trafficlake-sql-")  # private (0700), not the lake
        try:
            with connect(self.ctx.settings, catalog=self.ctx.catalog, lake=self.ctx.lake) as con:
                sandbox(con, temp_dir, self.limits)
                with self._lock:
                    if self._interrupted:
                        raise QueryError("interrupted")
                    self._con = con
                try:
                    return fetch(con, self.sql, self.limit)
                except (QueryError, LakeFilesMissingError):
                    raise
                except Exception as exc:  # a failure while fetching rows
                    raise QueryError(f"query failed: {first_line(exc)}") from None
                finally:
                    with self._lock:
                        self._con = None
        finally:
            shutil.rmtree(temp_dir, ignore_errors=True)


class UserSql:
    """The bounded runner of user statements (one per app)."""

    def __init__(self, ctx: WebContext, limits: SqlLimits) -> None:
        self.ctx, self.limits = ctx, limits
        self._pool = ThreadPoolExecutor(limits.workers, thread_name_prefix="user-sql")
        self._slots: asyncio.Semaphore | None = None
        self._waiting = 0

    def _busy(self, why: str) -> BusyError:
        retry = max(1, round(self.limits.queue_wait_s))
        return BusyError(f"too many queries ({why}); retry in {retry} s", retry)

    async def run(self, sql: str, limit: int) -> UserQueryResult:
        if not sql.strip():
            raise BadRequestError("sql is empty")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limits.workers)
        slots = self._slots
        if slots.locked() and self._waiting >= self.limits.queue:
            raise self._busy(f"{self.limits.workers} running, {self._waiting} waiting")
        self._waiting += 1
        try:
            await asyncio.wait_for(slots.acquire(), self.limits.queue_wait_s)
        except TimeoutError:
            raise self._busy(f"none finished within {self.limits.queue_wait_s:g} s") from None
        finally:
            self._waiting -= 1
        job = _Job(self.ctx, sql, limit, self.limits)
        future = asyncio.get_running_loop().run_in_executor(self._pool, job.run)

        def finished(f: asyncio.Future[UserQueryResult]) -> None:
            slots.release()  # only when the worker is really free again
            if not f.cancelled():
                f.exception()  # retrieved: an interrupted job's error is expected

        future.add_done_callback(finished)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.limits.timeout_s)
        except TimeoutError:
            job.interrupt()
            raise QueryError(f"query interrupted after {self.limits.timeout_s:g} s") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 before it is read."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        seen = 0
        started = answered = False

        async def limited_receive() -> Any:
            nonlocal seen, answered
            message = await receive()
            if message["type"] == "http.request" and not answered:
                seen += len(message.get("body", b""))
                if seen > self.max_bytes and not started:
                    answered = True  # answer now; the app sees the client gone
                    await self._too_large(send)
            return {"type": "http.disconnect"} if answered else message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if answered:
                return  # the 413 went out already
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not answered:
                raise

    async def _too_large(self, send: Any) -> None:
        body = json.dumps({"error": f"request body over {self.max_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def install_user_sql(
    app: FastAPI, ctx: WebContext, *, row_limit: int, timeout_s: float | None = None
) -> UserSql:
    """Add ``POST /api/query``, its 503 handler and the body limit to ``app``."""
    web = ctx.settings.web
    runner = UserSql(ctx, SqlLimits.from_settings(web, timeout_s))
    app.add_middleware(BodyLimit, max_bytes=web.max_body_bytes)

    @app.exception_handler(BusyError)
    async def _busy(_req: Request, exc: BusyError) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc)},
            status_code=503,
            headers={"Retry-After": str(exc.retry_after_s)},
        )

    router = APIRouter()

    @router.post("/api/query")
    async def query(body: QueryRequest) -> Any:
        limit = check_limit(body.limit if body.limit is not None else row_limit, MAX_LIMIT)
        return jsonable(await runner.run(body.sql, limit))

    app.include_router(router)
    return runner
