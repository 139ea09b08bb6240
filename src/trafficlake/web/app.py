"""The FastAPI app: the dashboard pages and a read-only JSON API under ``/api``.

One catalog and one lake handle are opened per app and shared by requests
(:class:`~trafficlake.web.context.WebContext`); each request that runs SQL gets its own DuckDB
connection. The routes live in :mod:`~trafficlake.web.api` (catalog, transformed table),
:mod:`~trafficlake.web.views` (roads, jams, detector health, map; the pages); errors are JSON
(:mod:`~trafficlake.web.errors`). The user SQL endpoint (POST /api/query) is here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from trafficlake.catalog import Catalog
from trafficlake.config import Settings
from trafficlake.plain import jsonable
from trafficlake.query import CatalogConnection, connect
from trafficlake.web import data
from trafficlake.web.api import MAX_LIMIT, catalog_router, check_limit, transformed_router
from trafficlake.web.context import WebContext
from trafficlake.web.errors import install_error_handlers
from trafficlake.web.views import pages_router, roads_router

HERE = Path(__file__).parent


class QueryRequest(BaseModel):
    sql: str
    limit: int | None = None


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
    ctx = WebContext(settings, catalog)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.close()

    app = FastAPI(
        title="trafficlake",
        description="Read-only API over the trafficlake catalog and lake.",
        lifespan=lifespan,
        docs_url=None,  # the Swagger/ReDoc pages load assets from a CDN; everything here is local
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    install_error_handlers(app)
    for router in (catalog_router, transformed_router, roads_router, pages_router):
        app.include_router(router(ctx))

    @app.post("/api/query")
    def query(body: QueryRequest) -> Any:
        limit = check_limit(body.limit if body.limit is not None else query_row_limit, MAX_LIMIT)
        with connect(settings, catalog=ctx.catalog, lake=ctx.lake) as con:
            _sandbox(con)
            result = data.user_query(con, body.sql, limit=limit, timeout_s=query_timeout_s)
        return jsonable(result)

    return app
