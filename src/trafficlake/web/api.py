"""The JSON API over the catalog and the transformed table (``/api/...``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from trafficlake.plain import jsonable
from trafficlake.web import data
from trafficlake.web.context import WebContext
from trafficlake.web.data import BadRequestError

MAX_LIMIT = 10_000


def check_limit(value: int, maximum: int = MAX_LIMIT) -> int:
    if not 1 <= value <= maximum:
        raise BadRequestError(f"limit must be 1..{maximum}, got {value}")
    return value


def catalog_router(ctx: WebContext) -> APIRouter:
    """Tables, partitions, crawlers, executions and transform runs."""
    api = APIRouter()

    @api.get("/api/tables")
    def tables() -> Any:
        cat = ctx.catalog
        return [data.table_summary(cat, t) for t in cat.list_tables()]

    @api.get("/api/tables/{full_name}/partitions")
    def partitions(full_name: str, request: Request) -> Any:
        db, dot, name = full_name.partition(".")
        if not dot or not db or not name:
            raise BadRequestError(f"table must be <database>.<table>, got {full_name!r}")
        cat = ctx.catalog
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

    @api.get("/api/crawlers")
    def crawlers() -> Any:
        return jsonable(ctx.catalog.list_crawlers())

    @api.get("/api/executions")
    def executions(
        state_machine: str | None = None, status: str | None = None, limit: int = 50
    ) -> Any:
        return jsonable(
            ctx.catalog.list_executions(
                state_machine=state_machine, status=status, limit=check_limit(limit, 1000)
            )
        )

    @api.get("/api/executions/{execution_id}/history")
    def history(execution_id: str) -> Any:
        cat = ctx.catalog
        execution = cat.get_execution(execution_id)
        return {
            "execution": jsonable(execution),
            "events": jsonable(cat.get_history(execution_id)),
        }

    @api.get("/api/transform/runs")
    def transform_runs(limit: int = 20) -> Any:
        return jsonable(ctx.catalog.list_job_runs("transform", limit=check_limit(limit, 1000)))

    return api


def transformed_router(ctx: WebContext) -> APIRouter:
    """Days, the congestion ranking and one location's speeds."""
    api = APIRouter()

    @api.get("/api/days")
    def days() -> Any:
        return {"days": ctx.days()}

    @api.get("/api/locations/congestion")
    def congestion(day: str | None = None, limit: int = 20) -> Any:
        when, n = ctx.day(day), check_limit(limit)
        with ctx.sql() as con:
            return data.congestion(con, ctx.settings, when, n)

    @api.get("/api/locations/{lve_nr}/timeseries")
    def timeseries(lve_nr: int, day: str | None = None) -> Any:
        when = ctx.day(day)
        with ctx.sql() as con:
            return data.timeseries(con, ctx.settings, lve_nr, when)

    return api
