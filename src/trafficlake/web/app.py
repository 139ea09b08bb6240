"""The FastAPI app: a dashboard at ``/`` and a read-only JSON API under ``/api``.

One catalog and one lake handle are opened per app and shared by requests; each request that
runs SQL gets its own DuckDB connection (:func:`trafficlake.query.connect`). Every error is
JSON ``{"error": "<one line>"}`` with 400 (bad input, rejected SQL) or 404 (unknown thing).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from trafficlake.catalog import (
    Catalog,
    CatalogError,
    NoSuchExecutionError,
    NoSuchTableError,
    open_catalog,
)
from trafficlake.config import Settings
from trafficlake.errors import TrafficlakeError, first_line
from trafficlake.plain import format_time
from trafficlake.query import CatalogConnection, QueryError, connect
from trafficlake.storage import Lake
from trafficlake.web import data
from trafficlake.web.data import BadRequestError, NotFoundError, jsonable

HERE = Path(__file__).parent
MAX_LIMIT = 10_000


class QueryRequest(BaseModel):
    sql: str
    limit: int | None = None


def _limit(value: int, default_max: int = MAX_LIMIT) -> int:
    if not 1 <= value <= default_max:
        raise BadRequestError(f"limit must be 1..{default_max}, got {value}")
    return value


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _sandbox(con: CatalogConnection) -> None:
    """Let user SQL read only the lake (a folder or an s3:// prefix): no other files, no config
    changes."""
    root = con.lake.uri("").rstrip("/") + "/"
    con.duckdb.execute("SET allowed_directories = ?", [[root]])
    con.duckdb.execute("SET enable_external_access = false")
    con.duckdb.execute("SET lock_configuration = true")


def create_app(
    settings: Settings,
    *,
    query_row_limit: int = 1000,
    query_timeout_s: float = 30.0,
    catalog: Catalog | None = None,
) -> FastAPI:
    """The dashboard + API app over ``settings``' catalog and lake.

    ``query_row_limit`` caps POST /api/query results (a request may ask for fewer, or up to
    10,000); ``query_timeout_s`` interrupts a user query that runs longer.
    """
    state: dict[str, Any] = {}
    opening = threading.Lock()  # request threads share one catalog and one lake handle

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if "catalog" in state and catalog is None:
            state["catalog"].close()

    def get_catalog() -> Catalog:
        with opening:
            if "catalog" not in state:
                state["catalog"] = catalog or open_catalog(settings)
            return state["catalog"]

    def get_lake() -> Lake:
        with opening:
            if "lake" not in state:
                state["lake"] = Lake.from_settings(settings)
            return state["lake"]

    @contextmanager
    def sql(sandbox: bool = False) -> Iterator[CatalogConnection]:
        with connect(settings, catalog=get_catalog(), lake=get_lake()) as con:
            if sandbox:
                _sandbox(con)
            yield con

    app = FastAPI(
        title="trafficlake",
        description="Read-only API over the trafficlake catalog and lake.",
        lifespan=lifespan,
        docs_url=None,  # the Swagger/ReDoc pages load assets from a CDN; everything here is local
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")

    # ---- errors ---------------------------------------------------------------------------
    @app.exception_handler(BadRequestError)
    @app.exception_handler(QueryError)
    async def _bad_request(_req: Request, exc: Exception) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(NotFoundError)
    @app.exception_handler(NoSuchTableError)
    @app.exception_handler(NoSuchExecutionError)
    async def _not_found(_req: Request, exc: Exception) -> JSONResponse:
        return _error(404, str(exc) or type(exc).__name__)

    @app.exception_handler(CatalogError)
    @app.exception_handler(TrafficlakeError)
    async def _server_side(_req: Request, exc: Exception) -> JSONResponse:
        return _error(500, first_line(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        return _error(400, f"{where}: {first.get('msg', 'invalid request')}".strip(": "))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    # ---- catalog --------------------------------------------------------------------------
    @app.get("/api/tables")
    def tables() -> Any:
        cat = get_catalog()
        return [data.table_summary(cat, t) for t in cat.list_tables()]

    @app.get("/api/tables/{full_name}/partitions")
    def partitions(full_name: str, request: Request) -> Any:
        db, dot, name = full_name.partition(".")
        if not dot or not db or not name:
            raise BadRequestError(f"table must be <database>.<table>, got {full_name!r}")
        cat = get_catalog()
        table = cat.get_table(db, name)
        keys = [k.name for k in table.partition_keys]
        where = {k: v for k, v in request.query_params.items() if k in keys}
        unknown = sorted(set(request.query_params) - set(keys))
        if unknown:
            raise BadRequestError(f"unknown partition key(s) {unknown}; keys are {keys}")
        return {
            "table": table.full_name,
            "partition_keys": keys,
            "partitions": jsonable(data.partition_rows(cat, table, where)),
        }

    @app.get("/api/crawlers")
    def crawlers() -> Any:
        return jsonable(get_catalog().list_crawlers())

    @app.get("/api/executions")
    def executions(
        state_machine: str | None = None, status: str | None = None, limit: int = 50
    ) -> Any:
        return jsonable(
            get_catalog().list_executions(
                state_machine=state_machine, status=status, limit=_limit(limit, 1000)
            )
        )

    @app.get("/api/executions/{execution_id}/history")
    def history(execution_id: str) -> Any:
        cat = get_catalog()
        execution = cat.get_execution(execution_id)
        return {
            "execution": jsonable(execution),
            "events": jsonable(cat.get_history(execution_id)),
        }

    @app.get("/api/transform/runs")
    def transform_runs(limit: int = 20) -> Any:
        return jsonable(get_catalog().list_job_runs("transform", limit=_limit(limit, 1000)))

    # ---- the transformed table ------------------------------------------------------------
    @app.get("/api/days")
    def days() -> Any:
        return {"days": data.available_days(get_catalog(), settings)}

    def _day(day: str | None) -> dt.date:
        """The asked day (default: the latest); 400 when malformed, 404 when it has no data."""
        when = data.parse_day(day) if day is not None else None
        available = data.available_days(get_catalog(), settings)
        if not available:
            data.require_transformed(get_catalog(), settings)  # 404 naming a missing table
            raise NotFoundError(f"{settings.catalog.database}.transformed has no partitions yet")
        if when is None:
            return dt.date.fromisoformat(available[-1])
        if when.isoformat() not in available:
            raise NotFoundError(
                f"no transformed data on {when.isoformat()} "
                f"(days available: {available[0]} .. {available[-1]})"
            )
        return when

    @app.get("/api/locations/congestion")
    def congestion(day: str | None = None, limit: int = 20) -> Any:
        when, n = _day(day), _limit(limit)
        with sql() as con:
            return data.congestion(con, settings, when, n)

    @app.get("/api/locations/{lve_nr}/timeseries")
    def timeseries(lve_nr: int, day: str | None = None) -> Any:
        when = _day(day)
        with sql() as con:
            return data.timeseries(con, settings, lve_nr, when)

    @app.post("/api/query")
    def query(body: QueryRequest) -> Any:
        limit = _limit(body.limit if body.limit is not None else query_row_limit)
        with sql(sandbox=True) as con:
            result = data.user_query(con, body.sql, limit=limit, timeout_s=query_timeout_s)
        return jsonable(result)

    # ---- dashboard ------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def dashboard(request: Request, day: str | None = None) -> Any:
        cat = get_catalog()
        available = data.available_days(cat, settings)
        chosen = available[-1] if available else ""
        notice = ""
        if day and day in available:
            chosen = day
        elif day:
            notice = f"no transformed data on {day[:10]!r}; showing {chosen or 'nothing'}"
        top: dict[str, Any] = {"locations": []}
        if chosen:
            with sql() as con:
                top = data.congestion(con, settings, dt.date.fromisoformat(chosen), 15)
        context = {
            "days": available,
            "day": chosen,
            "notice": notice,
            "congestion": top["locations"],
            "jam_threshold": settings.transform.jam_threshold_kmh,
            "tables": [data.table_summary(cat, t) for t in cat.list_tables()],
            "crawlers": cat.list_crawlers(),
            "executions": cat.list_executions(limit=8),
            "runs": cat.list_job_runs("transform", limit=5),
            "database": settings.catalog.database,
            "fmt_time": format_time,
        }
        return templates.TemplateResponse(request, "index.html", context)

    return app
