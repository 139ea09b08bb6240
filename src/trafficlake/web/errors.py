"""Every error of the app as JSON ``{"error": "<one line>"}``: 400 for bad input and rejected
SQL, 404 for unknown things, 500 for a catalog or lake failure."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from trafficlake.catalog import CatalogError, NoSuchExecutionError, NoSuchTableError
from trafficlake.errors import TrafficlakeError, first_line
from trafficlake.query import QueryError
from trafficlake.web.data import BadRequestError, NotFoundError


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BadRequestError)
    @app.exception_handler(QueryError)
    async def _bad_request(_req: Request, exc: Exception) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(NotFoundError)
    @app.exception_handler(NoSuchTableError)
    @app.exception_handler(NoSuchExecutionError)
    async def _not_found(_req: Request, exc: Exception) -> JSONResponse:
        return error(404, str(exc) or type(exc).__name__)

    @app.exception_handler(CatalogError)
    @app.exception_handler(TrafficlakeError)
    async def _server_side(_req: Request, exc: Exception) -> JSONResponse:
        return error(500, first_line(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        return error(400, f"{where}: {first.get('msg', 'invalid request')}".strip(": "))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))
