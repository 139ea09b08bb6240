"""Glue (``AWSGlue.``): databases, tables, partitions, crawlers and jobs over the catalog, the
crawler and the transform. Translation only: Glue's request and response shapes <-> the
catalog model; each operation calls one library function."""

from __future__ import annotations

from typing import Any

from trafficlake.aws.glue_crawlers import CrawlerOperations
from trafficlake.aws.glue_jobs import JobOperations
from trafficlake.aws.glue_partitions import PartitionOperations
from trafficlake.aws.glue_request import field, optional, paged
from trafficlake.aws.service import (
    AwsContext,
    AwsError,
    ErrorMap,
    Operation,
    ServiceAdapter,
    operation_table,
)
from trafficlake.catalog import crawler as crawls
from trafficlake.catalog import glue as library
from trafficlake.catalog import open_catalog
from trafficlake.catalog.base import (
    Catalog,
    CatalogError,
    Column,
    CrawlerNotRunningError,
    CrawlerRunningError,
    NoSuchCrawlerError,
    NoSuchDatabaseError,
    NoSuchJobRunError,
    NoSuchPartitionError,
    NoSuchResourceError,
    NoSuchTableError,
    ResourceExistsError,
    Table,
    TableExistsError,
)
from trafficlake.storage import Lake
from trafficlake.transform import glue_jobs
from trafficlake.transform.runs import TransformRunningError

ERRORS: ErrorMap = (
    (
        (
            NoSuchDatabaseError,
            NoSuchTableError,
            NoSuchPartitionError,
            NoSuchCrawlerError,
            NoSuchJobRunError,
            NoSuchResourceError,
            glue_jobs.NoSuchJobError,
        ),
        "EntityNotFoundException",
        400,
    ),
    ((TableExistsError, ResourceExistsError), "AlreadyExistsException", 400),
    (CrawlerRunningError, "CrawlerRunningException", 400),
    (CrawlerNotRunningError, "CrawlerNotRunningException", 400),
    (TransformRunningError, "ConcurrentRunsExceededException", 400),
    (
        (
            library.InvalidLocationError,
            library.InvalidExpressionError,
            glue_jobs.InvalidJobArgumentError,
        ),
        "InvalidInputException",
        400,
    ),
    (CatalogError, "InternalServiceException", 500),
)

PARQUET_SD = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
JSON_SD = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
        "Parameters": {"paths": ""},
    },
}


class GlueOperations(CrawlerOperations, JobOperations, PartitionOperations, dict[str, Operation]):
    """The Glue operations of one endpoint (one open catalog shared by every call)."""

    def __init__(self, context: AwsContext) -> None:
        super().__init__()
        self.context = context
        self.settings = context.settings
        self.catalog: Catalog = open_catalog(self.settings)
        self.lake = Lake.from_settings(self.settings)
        crawls.ensure_default_crawlers(self.catalog, self.settings)
        self.update(operation_table(self, ERRORS))

    def close(self) -> None:
        self.catalog.close()

    # ---- shapes ----------------------------------------------------------------------------
    def _location(self, definition: dict[str, Any], key: str) -> str:
        return str(definition.get("Location") or self.lake.uri(key))

    @staticmethod
    def _columns(cols: list[Column]) -> list[dict[str, Any]]:
        return [
            {"Name": c.name, "Type": c.type, **({"Comment": c.comment} if c.comment else {})}
            for c in cols
        ]

    @staticmethod
    def _parse_columns(value: Any, key: str) -> list[Column]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise AwsError("InvalidInputException", f"{key} must be a list")
        out = []
        for i, c in enumerate(value):
            if not isinstance(c, dict) or not isinstance(c.get("Name"), str) or not c["Name"]:
                raise AwsError("InvalidInputException", f"{key}[{i}].Name is required")
            typ = c.get("Type", "string")
            comment = c.get("Comment", "")
            if not isinstance(typ, str) or not isinstance(comment, str):
                raise AwsError("InvalidInputException", f"{key}[{i}] has the wrong type")
            out.append(Column(c["Name"].lower(), typ.lower(), comment))
        return out

    def _table_out(self, t: Table) -> dict[str, Any]:
        d = t.definition
        sd_extra = dict(d.get("StorageDescriptor", {}))
        defaults = PARQUET_SD if t.format == "parquet" else JSON_SD
        sd = {
            "Columns": self._columns(t.columns),
            "Location": self._location(d, t.location),
            **defaults,
            "Compressed": False,
            "NumberOfBuckets": -1,
            "BucketColumns": [],
            "SortColumns": [],
            "Parameters": {},
            "StoredAsSubDirectories": False,
            **sd_extra,
        }
        params = dict(t.parameters)
        params.setdefault("classification", t.format)
        return {
            "Name": t.name,
            "DatabaseName": t.database,
            "CreateTime": t.created_at,
            "UpdateTime": t.updated_at,
            "Retention": 0,
            "StorageDescriptor": sd,
            "PartitionKeys": self._columns(t.partition_keys),
            "TableType": d.get("TableType", "EXTERNAL_TABLE"),
            "Parameters": params,
            "CatalogId": self.context.account_id,
            "IsRegisteredWithLakeFormation": False,
            **{
                k: d[k]
                for k in ("Description", "Owner", "ViewOriginalText", "ViewExpandedText")
                if k in d
            },
        }

    def _table_in(self, database: str, ti: Any) -> Table:
        if not isinstance(ti, dict):
            raise AwsError("InvalidInputException", "TableInput is required")
        name = field(ti, "Name")
        sd = optional(ti, "StorageDescriptor", dict, {}) or {}
        params = optional(ti, "Parameters", dict, {}) or {}
        if not all(isinstance(v, str) for v in params.values()):
            raise AwsError("InvalidInputException", "Parameters values must be strings")
        location = optional(sd, "Location", str, "") or ""
        serde: dict[str, Any] = sd["SerdeInfo"] if isinstance(sd.get("SerdeInfo"), dict) else {}
        hints = " ".join(
            str(x).lower()
            for x in (
                sd.get("InputFormat"),
                serde.get("SerializationLibrary"),
                params.get("classification"),
            )
            if x
        )
        if not hints or "parquet" in hints:
            fmt = "parquet"
        elif "json" in hints:
            fmt = "json"
        else:
            raise AwsError(
                "InvalidInputException",
                f"table {name}: trafficlake reads Parquet and JSON tables only ({hints})",
            )
        definition: dict[str, Any] = {
            k: ti[k]
            for k in ("TableType", "Description", "Owner", "ViewOriginalText", "ViewExpandedText")
            if k in ti
        }
        kept = {k: v for k, v in sd.items() if k not in ("Columns", "Location")}
        if kept:
            definition["StorageDescriptor"] = kept
        if location:
            definition["Location"] = location
        return Table(
            database,
            name.lower(),
            self._parse_columns(sd.get("Columns"), "StorageDescriptor.Columns"),
            self._parse_columns(ti.get("PartitionKeys"), "PartitionKeys"),
            library.lake_key(self.settings, self.lake, location),
            fmt,
            {str(k): str(v) for k, v in params.items()},
            definition=definition,
        )

    # ---- databases -------------------------------------------------------------------------
    def CreateDatabase(self, body: dict[str, Any]) -> dict[str, Any]:
        di = field(body, "DatabaseInput", dict)
        name = field(di, "Name").lower()
        if name in self.catalog.list_databases():
            raise AwsError("AlreadyExistsException", f"Database {name} already exists.")
        self.catalog.create_database(name, exist_ok=False)
        self.catalog.put_resource(library.DATABASE_KIND, name, di)
        return {}

    def _database_out(self, name: str) -> dict[str, Any]:
        try:
            extra = self.catalog.get_resource(library.DATABASE_KIND, name).body
        except NoSuchResourceError:
            extra = {}
        return {
            "Name": name,
            "CatalogId": self.context.account_id,
            **{k: extra[k] for k in ("Description", "LocationUri", "Parameters") if k in extra},
        }

    def GetDatabase(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "Name")
        if name not in self.catalog.list_databases():
            raise AwsError("EntityNotFoundException", f"Database {name} not found.")
        return {"Database": self._database_out(name)}

    def DeleteDatabase(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "Name")
        if name not in self.catalog.list_databases():
            raise AwsError("EntityNotFoundException", f"Database {name} not found.")
        library.delete_database(self.catalog, name)
        return {}

    def GetDatabases(self, body: dict[str, Any]) -> dict[str, Any]:
        page, token = paged(self.catalog.list_databases(), body, str)
        out: dict[str, Any] = {"DatabaseList": [self._database_out(n) for n in page]}
        if token:
            out["NextToken"] = token
        return out

    # ---- tables ----------------------------------------------------------------------------
    def _database(self, body: dict[str, Any]) -> str:
        name = field(body, "DatabaseName")
        if name not in self.catalog.list_databases():
            raise AwsError("EntityNotFoundException", f"Database {name} not found.")
        return str(name)

    def CreateTable(self, body: dict[str, Any]) -> dict[str, Any]:
        table = self._table_in(self._database(body), body.get("TableInput"))
        self.catalog.create_table(table)
        return {}

    def GetTable(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "Table": self._table_out(
                self.catalog.get_table(self._database(body), field(body, "Name"))
            )
        }

    def GetTables(self, body: dict[str, Any]) -> dict[str, Any]:
        tables = self.catalog.list_tables(self._database(body))
        pattern = optional(body, "Expression", str)
        if pattern:
            import re

            try:
                rx = re.compile(pattern.replace("*", ".*") if ".*" not in pattern else pattern)
            except re.error as exc:
                raise AwsError("InvalidInputException", f"Expression: {exc}") from None
            tables = [t for t in tables if rx.fullmatch(t.name)]
        page, token = paged(tables, body, lambda t: t.name)
        out: dict[str, Any] = {"TableList": [self._table_out(t) for t in page]}
        if token:
            out["NextToken"] = token
        return out

    def UpdateTable(self, body: dict[str, Any]) -> dict[str, Any]:
        new = self._table_in(self._database(body), body.get("TableInput"))
        old = self.catalog.get_table(new.database, new.name)
        new.created_at = old.created_at
        self.catalog.update_table(new)
        return {}

    def DeleteTable(self, body: dict[str, Any]) -> dict[str, Any]:
        self.catalog.drop_table(self._database(body), field(body, "Name"))
        return {}


ADAPTER = ServiceAdapter("AWSGlue.", GlueOperations)
