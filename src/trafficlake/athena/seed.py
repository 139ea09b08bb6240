"""The seed's Athena INSERT INTO (blog part 3, ``seed_insert.sql``, verbatim) and the ranges its
Lambda runs it in: from a start day to yesterday, at most 4 days per query and never across a
month end - a query may write at most 100 hourly partitions (Athena's limit).

:func:`insert_queries` is the ``python:`` task of the shipped ``batch-athena`` state machine:
input ``{"year", "month", "day"}`` (the first day, default yesterday; optional
``"until": "YYYY-MM-DD"``, default yesterday in Brussels as the seed's Lambda), and optionally ``"Source"``/``"Target"``
(``db.table``) to run it on other tables than the seed's ``anpr`` ones.
"""

from __future__ import annotations

import datetime as dt
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from trafficlake.errors import TrafficlakeError
from trafficlake.sqlquote import quote_ident

SEED_INSERT = files("trafficlake.athena").joinpath("seed_insert.sql").read_text(encoding="utf-8")
SEED_SOURCE = '"anpr"."sls_data_pipelines_batch_destination_parquet"'
SEED_TARGET = '"anpr"."sls_data_pipelines_batch_transformed"'
CHUNK_DAYS = 4


def seed_ranges(
    first: dt.date, last: dt.date, size: int = CHUNK_DAYS
) -> list[tuple[int, int, int, int]]:
    """``(year, month, start_day, end_day)`` runs of at most ``size`` days within one month."""
    out: list[tuple[int, int, int, int]] = []
    day = first
    while day <= last:
        end = day
        while (
            (end - day).days + 1 < size
            and end + dt.timedelta(days=1) <= last
            and (end + dt.timedelta(days=1)).month == day.month
        ):
            end += dt.timedelta(days=1)
        out.append((day.year, day.month, day.day, end.day))
        day = end + dt.timedelta(days=1)
    return out


def _quoted(name: str) -> str:
    parts = name.split(".")
    if len(parts) != 2 or not all(parts):
        raise TrafficlakeError(f"table {name!r} must be DATABASE.TABLE")
    return ".".join(quote_ident(p) for p in parts)


def insert_queries(params: dict[str, Any]) -> dict[str, Any]:
    """The seed's INSERT INTO, one per range (``{"Queries": [...], "Ranges": [...]}``). Without
    a start day: yesterday only (the seed's daily run). ``params["Input"]`` (a state machine's
    input) is read too."""
    given = dict(params.get("Input") or {})
    given.update({k: v for k, v in params.items() if k != "Input"})
    yesterday = dt.datetime.now(ZoneInfo("Europe/Brussels")).date() - dt.timedelta(days=1)
    try:
        first = (
            dt.date(int(given["year"]), int(given["month"]), int(given["day"]))
            if "year" in given
            else yesterday
        )
        last = dt.date.fromisoformat(str(given["until"])) if given.get("until") else yesterday
    except (KeyError, TypeError, ValueError) as exc:
        raise TrafficlakeError(f"the start day needs year, month and day: {exc}") from None
    if last < first:
        raise TrafficlakeError(f"the start day {first} is after the last day {last}")
    sql = SEED_INSERT
    if given.get("Source"):
        sql = sql.replace(SEED_SOURCE, _quoted(str(given["Source"])))
    if given.get("Target"):
        sql = sql.replace(SEED_TARGET, _quoted(str(given["Target"])))
    ranges = seed_ranges(first, last)
    return {
        "Queries": [sql.format(year=y, month=m, start_day=a, end_day=b) for y, m, a, b in ranges],
        "Ranges": [f"{y}-{m:02d}-{a:02d}..{b:02d}" for y, m, a, b in ranges],
    }
