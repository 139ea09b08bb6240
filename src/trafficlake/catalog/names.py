"""Table naming: the one owner of which catalog table a lake folder is, and of the lake's folders.

Every table name in trafficlake comes from here - the crawler, the transform, the query views,
the dashboard, the demo and the AWS endpoint ask this module instead of writing ``"raw"`` or
``"transformed"``. The rule is the crawler's (like a Glue crawler with a table prefix): a
table is ``[catalog] table_prefix`` + the last component of the folder it is crawled from, in
the database ``[catalog] database``. With ``table_prefix = "miv_"`` the transform writes
``traffic.miv_transformed``, and the dashboard reads that same table.

The lake's folders (see docs/architecture.md, "Lake layout"): ``raw/`` (landed events),
``transformed/`` (the transform's output, written by the transform only), ``locations/``
(the measuring-point reference table).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

from trafficlake.sqlquote import quote_ident

if TYPE_CHECKING:
    from trafficlake.config import Settings

RAW_PREFIX = "raw/"
TRANSFORMED_PREFIX = "transformed/"
LOCATIONS_PREFIX = "locations/"
LOCATIONS_KEY = LOCATIONS_PREFIX + "locations.parquet"
"""The measuring-point reference table: one Parquet file, replaced atomically."""


def hive_path(keys: Sequence[str], values: Sequence[object]) -> str:
    """``k1=v1/k2=v2`` - a partition's Hive folder path below its table (no slashes around)."""
    if len(keys) != len(values):
        raise ValueError(f"{len(values)} partition values for the {len(keys)} keys {list(keys)}")
    return "/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))


def arrival_period(keys: Sequence[str], values: Sequence[str]) -> tuple[int, int] | None:
    """``(start, seconds)`` in epoch seconds of the period a partition named by time holds
    (Hive keys ``year``/``month``/``day`` and optionally ``hour``, as the delivery stream names
    its arrival-time folders): the hour, or the whole day without an ``hour`` key. None when
    the partition's values are not such a time."""
    if len(keys) != len(values):
        return None
    named = dict(zip(keys, values, strict=True))
    try:
        d = date(int(named["year"]), int(named["month"]), int(named["day"]))
        hour = named.get("hour")
        start = (d - date(1970, 1, 1)).days * 86400
        return (start + int(hour) * 3600, 3600) if hour is not None else (start, 86400)
    except (KeyError, ValueError):
        return None


def partition_folder(table_location: str, keys: Sequence[str], values: Sequence[object]) -> str:
    """The lake folder of one partition: the table's location + ``k1=v1/k2=v2/``."""
    return table_location + (hive_path(keys, values) + "/" if keys else "")


class TableRef(NamedTuple):
    """A catalog table: database and table name."""

    database: str
    name: str

    def __str__(self) -> str:
        return f"{self.database}.{self.name}"

    @property
    def sql(self) -> str:
        """The name as a quoted SQL identifier: ``"database"."name"``."""
        return f"{quote_ident(self.database)}.{quote_ident(self.name)}"


def referenced_table(
    tables: Iterable[tuple[str, str]], database: str, name: str
) -> tuple[str, str] | None:
    """The catalog table (a ``(database, name)`` of ``tables``) that the SQL reference
    ``database.name`` names, matched as DuckDB matches identifiers: case-insensitively
    (``traffic.RAW`` is ``traffic.raw``); None when it names none of them."""
    wanted = (database.lower(), name.lower())
    return next((t for t in tables if (t[0].lower(), t[1].lower()) == wanted), None)


def table_name(prefix: str, folder: str) -> str:
    """The table a crawler with ``prefix`` makes of the lake folder ``folder`` (``"raw/"`` ->
    ``prefix + "raw"``; the lake's root is ``prefix + "root"``), as Glue names it: lower case,
    every character outside ``[a-z0-9_]`` (``-``, ``.``, ...) becomes ``_``."""
    name = (prefix + (posixpath.basename(folder.strip("/")) or "root")).lower()
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def lake_table(settings: Settings, folder: str) -> TableRef:
    """The table of the lake folder ``folder`` under the ``[catalog]`` settings."""
    return TableRef(settings.catalog.database, table_name(settings.catalog.table_prefix, folder))


def raw_table(settings: Settings) -> TableRef:
    """The landed events (crawled from ``raw/``)."""
    return lake_table(settings, RAW_PREFIX)


def transformed_table(settings: Settings) -> TableRef:
    """The transform's output (``transformed/``; the transform writes its catalog entry)."""
    return lake_table(settings, TRANSFORMED_PREFIX)


def locations_table(settings: Settings) -> TableRef:
    """The measuring points (``locations/``): a crawled table, or the query layer's view."""
    return lake_table(settings, LOCATIONS_PREFIX)


RAW = TableRef("traffic", "raw")
TRANSFORMED = TableRef("traffic", "transformed")
"""The names under the default ``[catalog]`` settings (``database = "traffic"``, no prefix)."""
