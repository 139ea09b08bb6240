"""What the Glue Data Catalog API does beyond storing rows: ``s3://`` locations on a lake,
partition ``Expression`` filters, partitions declared by hand, and the last finished crawl.

- Locations: ``s3://BUCKET/KEY`` is ``KEY`` in the lake when the lake is local (every bucket is
  the lake root unless ``[aws] buckets`` maps it to a folder of the lake); on an S3 lake the URL
  must lie inside the lake. Lake keys are what the catalog stores.
- Expressions: Glue's partition predicate (``year = '2026' AND day >= 3``, ``IN``, ``BETWEEN``,
  ``LIKE``) evaluated by DuckDB over the partition values typed by their keys' Hive types, on a
  connection without external access.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from trafficlake.catalog.base import (
    Catalog,
    CatalogError,
    Crawler,
    CrawlRun,
    DataFile,
    NoSuchResourceError,
    Partition,
    PartitionChangedError,
    ResourceExistsError,
    Table,
)
from trafficlake.config import Settings
from trafficlake.errors import first_line
from trafficlake.storage import Lake

_DUCK_TYPES = {
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


DATABASE_KIND = "glue-database"
"""The resource holding a database's Glue ``DatabaseInput`` (Description, LocationUri, ...)."""


class PartitionExistsError(ResourceExistsError):
    """Glue's AlreadyExistsException for a partition."""


class InvalidLocationError(CatalogError):
    """A location that is not in the lake."""


class InvalidExpressionError(CatalogError):
    """A partition expression that does not parse or does not evaluate."""


def lake_key(settings: Settings, lake: Lake, location: str) -> str:
    """The lake key (``raw/``) of a table or partition location (``s3://b/raw/``, a lake path
    or already a key). Folders keep their trailing ``/``."""
    if not location:
        return ""
    folder = location.endswith("/")
    if location.startswith("s3://") and lake.is_local:
        bucket, _, key = location[len("s3://") :].partition("/")
        base = settings.aws.buckets.get(bucket, "").strip("/")
        key = f"{base}/{key}" if base else key
    elif "://" in location or location.startswith("/"):
        try:
            key = lake.key_of(location.rstrip("/"))
        except CatalogError:
            raise
        except Exception as exc:
            raise InvalidLocationError(f"location {location} is outside the lake: {exc}") from None
    else:
        key = location
    parts = [p for p in key.split("/") if p]
    if ".." in parts:
        raise InvalidLocationError(f"location {location} escapes the lake")
    key = "/".join(parts)
    return key + "/" if key and folder else key


def filter_partitions(
    table: Table, partitions: list[Partition], expression: str
) -> list[Partition]:
    """The partitions for which Glue's ``expression`` holds."""
    import duckdb

    if not expression.strip():
        return partitions
    keys = table.partition_keys
    if not keys:
        raise InvalidExpressionError("the table has no partition keys to filter on")
    con = duckdb.connect(config={"enable_external_access": False})
    try:
        cols = ", ".join(f'"{k.name}" {_DUCK_TYPES.get(k.type.lower(), "VARCHAR")}' for k in keys)
        con.execute(f"CREATE TABLE p (__i INTEGER, {cols})")
        rows = [(i, *p.values) for i, p in enumerate(partitions)]
        if rows:
            marks = ", ".join("?" for _ in range(len(keys) + 1))
            con.executemany(f"INSERT INTO p VALUES ({marks})", rows)
        keep = con.execute(f"SELECT __i FROM p WHERE {expression}").fetchall()
    except duckdb.Error as exc:
        raise InvalidExpressionError(f"invalid partition expression: {first_line(exc)}") from None
    finally:
        con.close()
    wanted = {int(r[0]) for r in keep}
    return [p for i, p in enumerate(partitions) if i in wanted]


def declared_partition(lake: Lake, table: Table, values: Sequence[str], location: str) -> Partition:
    """A partition declared by hand (BatchCreatePartition): its files are what the lake holds
    at ``location`` now, in the table's format (row counts unknown until a crawl)."""
    if len(values) != len(table.partition_keys):
        raise CatalogError(
            f"{len(values)} partition values for {len(table.partition_keys)} partition keys"
        )
    suffix = ".parquet" if table.format == "parquet" else ""
    files = [
        DataFile(e.key, e.size)
        for e in (lake.list(location) if location else [])
        if not e.key.rsplit("/", 1)[-1].startswith((".", "_"))
        and (not suffix or e.key.endswith(suffix))
    ]
    return Partition(
        table.database,
        table.name,
        tuple(str(v) for v in values),
        location,
        files=files,
        size_bytes=sum(f.size for f in files),
    )


def delete_database(catalog: Catalog, name: str) -> None:
    """Glue's DeleteDatabase: the database goes with its tables and their partitions (the data
    files stay), and its stored ``DatabaseInput``. Raises NoSuchDatabaseError."""
    catalog.drop_database(name)
    with contextlib.suppress(NoSuchResourceError):  # absent when not created through the API
        catalog.delete_resource(DATABASE_KIND, name)


def add_partition(
    catalog: Catalog, lake: Lake, table: Table, values: Sequence[str], location: str
) -> Partition:
    """Declare one partition (Glue's CreatePartition) at ``location``, atomically: raises
    PartitionExistsError when one with these values exists (deprecated ones included)."""
    p = declared_partition(lake, table, values, location)
    try:
        catalog.commit_partitions(table.database, table.name, upsert=[p], expect={p.values: None})
    except PartitionChangedError:
        raise PartitionExistsError("Partition already exists.") from None
    return p


def relocate_partition(
    catalog: Catalog, lake: Lake, table: Table, values: Sequence[str], location: str | None
) -> None:
    """Glue's UpdatePartition: an existing partition moved to ``location`` (its files are what
    the lake holds there); the same location, or none, leaves it as it is. Raises
    NoSuchPartitionError."""
    current = catalog.get_partition(table.database, table.name, values)
    if location is None or location == current.location:
        return
    p = declared_partition(lake, table, values, location)
    catalog.commit_partitions(
        table.database, table.name, upsert=[p], expect={current.values: current.version}
    )


def remove_partition(catalog: Catalog, table: Table, values: Sequence[str]) -> None:
    """Glue's DeletePartition: raises NoSuchPartitionError when it does not exist."""
    current = catalog.get_partition(table.database, table.name, values)
    catalog.commit_partitions(table.database, table.name, delete=[current.values])


def last_finished_crawl(catalog: Catalog, crawler: Crawler) -> CrawlRun | None:
    """The newest crawl of ``crawler`` that ended (Glue's ``LastCrawl`` never shows a
    running crawl)."""
    last = crawler.last_crawl
    if last is None or last.status != "RUNNING":
        return last
    runs = catalog.list_crawl_runs(crawler.name, limit=5)
    return next((r for r in runs if r.status != "RUNNING"), None)


def describe_runs(runs: list[CrawlRun]) -> dict[str, Any]:
    """Glue's crawler metrics from the recorded runs (newest first)."""
    done = [r for r in runs if r.status != "RUNNING" and r.started_at and r.ended_at]
    times = sorted(float(r.ended_at or 0) - float(r.started_at or 0) for r in done)
    last = done[0] if done else None
    return {
        "LastRuntimeSeconds": (float(last.ended_at or 0) - float(last.started_at or 0))
        if last
        else 0.0,
        "MedianRuntimeSeconds": times[len(times) // 2] if times else 0.0,
        "TablesCreated": sum(r.tables_created for r in done),
        "TablesUpdated": sum(r.tables_updated for r in done),
        "TablesDeleted": 0,
    }
