"""The analyst's API (``/api/roads``, ``/api/roads/{road}/{direction}/timespace``,
``/api/jams``, ``/api/detectors/health``, ``/api/map``) and the HTML pages: ``/`` (traffic:
map, jam episodes, time-space diagram, heat map, speed chart), ``/detectors`` (detector
health) and ``/lake`` (tables, crawls, runs, the query box)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from trafficlake.catalog.names import transformed_table
from trafficlake.plain import format_time
from trafficlake.web import data, roads
from trafficlake.web.context import WebContext

TEMPLATES = Path(__file__).parent / "templates"


def roads_router(ctx: WebContext) -> APIRouter:
    api = APIRouter()

    @api.get("/api/roads")
    def all_roads() -> Any:
        with ctx.sql() as con:
            return roads.roads(con, ctx.settings)

    @api.get("/api/roads/{road}/{direction}/timespace")
    def timespace(road: str, direction: str, day: str | None = None) -> Any:
        when = ctx.day(day)
        with ctx.sql() as con:
            return roads.timespace(con, ctx.settings, road, direction, when)

    @api.get("/api/jams")
    def jams(day: str | None = None) -> Any:
        when = ctx.day(day)
        with ctx.sql() as con:
            return roads.jams(con, ctx.settings, when)

    @api.get("/api/detectors/health")
    def health(day: str | None = None) -> Any:
        when = ctx.day(day)
        with ctx.sql() as con:
            return roads.health(con, ctx.settings, when)

    @api.get("/api/map")
    def map_at(at: str | None = None, day: str | None = None) -> Any:
        minute = roads.parse_at(at)
        when = ctx.day(day) if day is not None or minute is None else None
        with ctx.sql() as con:
            return roads.map_at(con, ctx.settings, minute, ctx.days(), when)

    return api


def pages_router(ctx: WebContext) -> APIRouter:
    pages = APIRouter()
    templates = Jinja2Templates(directory=TEMPLATES)

    def chosen_day(day: str | None) -> tuple[list[str], str, str]:
        available = ctx.days()
        chosen = available[-1] if available else ""
        notice = ""
        if day and day in available:
            chosen = day
        elif day:
            notice = f"no transformed data on {day[:10]!r}; showing {chosen or 'nothing'}"
        return available, chosen, notice

    def page(request: Request, name: str, day: str | None, **extra: Any) -> Any:
        available, chosen, notice = chosen_day(day)
        context = {
            "page": name,
            "days": available,
            "day": chosen,
            "notice": notice,
            "jam_threshold": ctx.settings.transform.jam_threshold_kmh,
            "transformed": str(transformed_table(ctx.settings)),
            **extra,
        }
        return templates.TemplateResponse(request, f"{name}.html", context)

    @pages.get("/", response_class=HTMLResponse)
    def traffic(request: Request, day: str | None = None) -> Any:
        return page(request, "traffic", day)

    @pages.get("/detectors", response_class=HTMLResponse)
    def detectors(request: Request, day: str | None = None) -> Any:
        return page(request, "detectors", day)

    @pages.get("/lake", response_class=HTMLResponse)
    def lake(request: Request, day: str | None = None) -> Any:
        cat = ctx.catalog
        _, chosen, _ = chosen_day(day)
        top: dict[str, Any] = {"locations": []}
        if chosen:
            with ctx.sql() as con:
                top = data.congestion(con, ctx.settings, dt.date.fromisoformat(chosen), 15)
        return page(
            request,
            "lake",
            day,
            congestion=top["locations"],
            tables=[data.table_summary(cat, t) for t in cat.list_tables()],
            crawlers=cat.list_crawlers(),
            executions=cat.list_executions(limit=8),
            runs=cat.list_job_runs("transform", limit=5),
            database=ctx.settings.catalog.database,
            fmt_time=format_time,
        )

    return pages
