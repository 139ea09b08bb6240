"""What the dashboard and API answer: catalog summaries and SQL over the transformed table.

No web framework here. User values reach SQL only as ``?`` parameters, except validated
integers (a day's year/month/day) that are written as literals so the catalog can prune
partitions (:mod:`trafficlake.query_pruning` reads literals, not parameters).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from trafficlake.catalog import Catalog, NoSuchTableError, Table
from trafficlake.catalog.names import TableRef, locations_table, transformed_table
from trafficlake.config import Settings
from trafficlake.congestion import congestion as ranked_congestion
from trafficlake.congestion import day_filter
from trafficlake.errors import TrafficlakeError
from trafficlake.plain import jsonable
from trafficlake.query import CatalogConnection
from trafficlake.sqlquote import quote_ident

DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMESERIES_COLUMNS = (
    "recordTimestamp",
    "currentSpeed",
    "avgSpeed3Minutes",
    "avgSpeed20Minutes",
    "trafficJamIndicator",
    "vehicleCount",
)
DAY_KEYS = ("year", "month", "day")


class BadRequestError(TrafficlakeError):
    """A request value that is malformed (HTTP 400)."""


class NotFoundError(TrafficlakeError):
    """Something asked for that does not exist (HTTP 404)."""


def parse_day(text: str) -> dt.date:
    """A ``YYYY-MM-DD`` day, or BadRequestError."""
    if not DAY_RE.match(text or ""):
        raise BadRequestError(f"day must be YYYY-MM-DD, got {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise BadRequestError(f"day {text!r} is not a date: {exc}") from None


# ---- catalog summaries ----------------------------------------------------------------------


def require_transformed(catalog: Catalog, settings: Settings) -> Table:
    """The transformed table, or NotFoundError; it must be partitioned by year/month/day."""
    ref = transformed_table(settings)
    try:
        table = catalog.get_table(*ref)
    except NoSuchTableError:
        raise NotFoundError(
            f"table {ref} is not in the catalog yet (run the transform and its crawler)"
        ) from None
    keys = [k.name for k in table.partition_keys]
    if not all(k in keys for k in DAY_KEYS):
        raise NotFoundError(f"{ref} is not partitioned by year/month/day ({keys})")
    return table


def available_days(catalog: Catalog, settings: Settings) -> list[str]:
    """The UTC days the transformed table has partitions for, oldest first (from the catalog)."""
    try:
        table = require_transformed(catalog, settings)
    except NotFoundError:
        return []
    keys = [k.name for k in table.partition_keys]
    idx = [keys.index(k) for k in DAY_KEYS]
    days: set[dt.date] = set()
    for values, deprecated in catalog.list_partition_locations(table.database, table.name).values():
        if deprecated:
            continue
        try:
            days.add(dt.date(*(int(values[i]) for i in idx)))
        except ValueError:
            continue  # a partition whose values are not a date cannot be picked as a day
    return [d.isoformat() for d in sorted(days)]


def table_summary(catalog: Catalog, table: Table) -> dict[str, Any]:
    """Name, columns, keys and the crawler-maintained totals of one table."""
    p = table.parameters

    def _int(key: str) -> int | None:
        try:
            return int(p[key])
        except (KeyError, ValueError):
            return None

    parts = catalog.list_partition_locations(table.database, table.name)
    return {
        "database": table.database,
        "name": table.name,
        "full_name": table.full_name,
        "location": table.location,
        "format": table.format,
        "columns": [{"name": c.name, "type": c.type} for c in table.columns],
        "partition_keys": [{"name": c.name, "type": c.type} for c in table.partition_keys],
        "partitions": sum(1 for _, deprecated in parts.values() if not deprecated),
        "rows": _int("recordCount"),
        "bytes": _int("sizeKey"),
        "files": _int("objectCount"),
        "updated_at": table.updated_at,
    }


def partition_rows(catalog: Catalog, table: Table, where: dict[str, str]) -> list[dict[str, Any]]:
    keys = [k.name for k in table.partition_keys]
    return [
        {
            "values": dict(zip(keys, p.values, strict=True)),
            "location": p.location,
            "rows": p.row_count,
            "bytes": p.size_bytes,
            "files": len(p.files),
            "stats": {c: list(mm) for c, mm in p.stats.items()},
            "version": p.version,
            "updated_at": p.updated_at,
        }
        for p in catalog.list_partitions(table.database, table.name, where=where or None)
    ]


# ---- SQL over the transformed table ---------------------------------------------------------


def congestion(
    con: CatalogConnection, settings: Settings, day: dt.date, limit: int
) -> dict[str, Any]:
    """Per location (lve_nr) on ``day``: jam minutes, minutes, min/avg speed, name."""
    require_transformed(con.catalog, settings)
    result = ranked_congestion(con, settings, day=day, limit=limit)
    return {
        "day": day.isoformat(),
        "jam_threshold_kmh": settings.transform.jam_threshold_kmh,
        "locations": jsonable(result.table.to_pylist()),
        "files_read": result.files_read,
    }


def timeseries(
    con: CatalogConnection, settings: Settings, lve_nr: int, day: dt.date
) -> dict[str, Any]:
    """One location's minutes on ``day`` (UTC), oldest first; NotFoundError when it has none."""
    table = require_transformed(con.catalog, settings)
    cols = ", ".join(quote_ident(c) for c in TIMESERIES_COLUMNS)
    sql = (
        f"SELECT {cols} FROM {TableRef(table.database, table.name).sql} "
        f"WHERE {day_filter(day)} AND lve_nr = ? ORDER BY recordTimestamp"
    )
    result = con.query(sql, [int(lve_nr)])
    if not result.rows:
        raise NotFoundError(f"location {lve_nr} has no transformed data on {day.isoformat()}")
    name = None
    locations = locations_table(settings)
    if con.has_view(locations):
        found = con.query(
            f"SELECT min(volledige_naam) FROM {locations.sql} WHERE lve_nr = ?",
            [int(lve_nr)],
        ).rows
        name = found[0][0] if found else None
    return {
        "lve_nr": int(lve_nr),
        "name": name,
        "day": day.isoformat(),
        "jam_threshold_kmh": settings.transform.jam_threshold_kmh,
        "columns": list(TIMESERIES_COLUMNS),
        "rows": jsonable(result.rows),
        "files_read": result.files_read,
    }
