"""The FastAPI app: the dashboard pages and a read-only JSON API under ``/api``.

One catalog and one lake handle are opened per app and shared by requests
(:class:`~trafficlake.web.context.WebContext`); a request that runs SQL takes a DuckDB
connection of the app's for its duration (one an earlier request used, or a new one). The routes live in :mod:`~trafficlake.web.api` (catalog, transformed table),
:mod:`~trafficlake.web.views` (roads, jams, detector health, map; the pages); errors are JSON
(:mod:`~trafficlake.web.errors`); the user SQL endpoint (POST /api/query) is
:mod:`~trafficlake.web.user_sql`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from trafficlake.catalog import Catalog
from trafficlake.config import Settings
from trafficlake.web.api import catalog_router, transformed_router
from trafficlake.web.context import WebContext
from trafficlake.web.errors import install_error_handlers
from trafficlake.web.user_sql import UserSql, install_user_sql
from trafficlake.web.views import pages_router, roads_router

HERE = Path(__file__).parent


def create_app(
    settings: Settings,
    *,
    query_row_limit: int = 1000,
    query_timeout_s: float | None = None,
    catalog: Catalog | None = None,
) -> FastAPI:
    """The dashboard + API app over ``settings``' catalog and lake.

    ``query_row_limit`` caps POST /api/query results (a request may ask for fewer, or up to
    10,000); ``query_timeout_s`` (default ``web.query_timeout_s``) interrupts a user query
    that runs longer (see :mod:`~trafficlake.web.user_sql` for the other bounds).
    """
    ctx = WebContext(settings, catalog)
    user_sql: list[UserSql] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        for runner in user_sql:
            runner.close()
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

    user_sql.append(
        install_user_sql(app, ctx, row_limit=query_row_limit, timeout_s=query_timeout_s)
    )
    return app
