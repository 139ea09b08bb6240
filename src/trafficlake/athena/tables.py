"""Catalog tables as Athena sees them: locations, Hive types, ownership, DDL text."""

from __future__ import annotations

from trafficlake.athena.errors import AthenaQueryError
from trafficlake.catalog import CatalogError, Table
from trafficlake.catalog.crawl_plan import owning_writer
from trafficlake.catalog.glue import lake_key as glue_lake_key
from trafficlake.config import Settings
from trafficlake.storage import Lake

ATHENA_WRITER = "trafficlake.athena"
"""The ``writer`` parameter of tables Athena statements created (CTAS): Athena may write them."""


def lake_key(settings: Settings, lake: Lake, location: str) -> str:
    """The lake folder key (ending in ``/``) of a location (``s3://bucket/prefix/``): the Glue
    adapter's rule (:func:`trafficlake.catalog.glue.lake_key`, ``[aws.buckets]``)."""
    try:
        key = glue_lake_key(settings, lake, location.strip())
    except CatalogError as exc:
        raise AthenaQueryError("INVALID_TABLE_PROPERTY", str(exc)) from None
    key = key.strip("/")
    return key + "/" if key else ""


def location_uri(key: str, lake: Lake) -> str:
    """``s3://...`` (S3 lake) or the lake URI of a folder key, as Athena shows a location."""
    return lake.uri(key)


def check_writable(table: Table, action: str) -> None:
    """Refuse writes into tables another writer owns (the transform's output)."""
    writer = owning_writer(table)
    if writer and writer != ATHENA_WRITER:
        raise AthenaQueryError(
            "PERMISSION_DENIED",
            f"Access Denied: Cannot {action} table awsdatacatalog.{table.database}.{table.name}: "
            f"it is owned by {writer} and changes only through it",
        )


def hive_type(athena: str) -> str:
    """The Hive (Glue) type of an Athena result type: integer -> int, varchar -> string."""
    return {
        "integer": "int", "varchar": "string", "real": "float", "float": "float",
        "timestamp with time zone": "timestamp", "varbinary": "binary",
    }.get(athena, athena)  # fmt: skip


def show_create_table(table: Table, lake: Lake) -> list[str]:
    """``SHOW CREATE TABLE`` lines (Athena returns one row per line)."""
    cols = ",\n".join(f"  `{c.name}` {c.type}" for c in table.columns)
    lines = [f"CREATE EXTERNAL TABLE `{table.database}`.`{table.name}`(", cols + ")"]
    if table.partition_keys:
        keys = ",\n".join(f"  `{k.name}` {k.type}" for k in table.partition_keys)
        lines += ["PARTITIONED BY ( ", keys + ")"]
    if table.format == "json":
        lines += ["ROW FORMAT SERDE ", "  'org.openx.data.jsonserde.JsonSerDe' "]
    else:
        lines += ["STORED AS PARQUET"]
    lines += ["LOCATION", f"  '{location_uri(table.location, lake)}'"]
    props = {k: v for k, v in sorted(table.parameters.items()) if "\n" not in v}
    if props:
        body = ",\n".join(f"  '{k}'='{v}'" for k, v in props.items())
        lines += ["TBLPROPERTIES (", body + ")"]
    return "\n".join(lines).split("\n")
