"""Glue (``AWSGlue.``): databases, tables, partitions, crawlers and jobs over the catalog, the
crawler and the transform. Translation only: Glue's request and response shapes <-> the
catalog model; each operation calls one library function."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

from trafficlake.aws.service import AwsContext, AwsError, Operation, ServiceAdapter
from trafficlake.catalog import crawler as crawls
from trafficlake.catalog import glue as library
from trafficlake.catalog import open_catalog
from trafficlake.catalog.base import (
    Catalog,
    CatalogError,
    Column,
    Crawler,
    CrawlerNotRunningError,
    CrawlerRunningError,
    JobRun,
    NoSuchCrawlerError,
    NoSuchDatabaseError,
    NoSuchJobRunError,
    NoSuchPartitionError,
    NoSuchResourceError,
    NoSuchTableError,
    Partition,
    ResourceExistsError,
    Table,
    TableExistsError,
)
from trafficlake.storage import Lake
from trafficlake.transform import glue_jobs
from trafficlake.transform.runs import TransformRunningError

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
UPDATE = {"UPDATE_IN_DATABASE": "update", "LOG": "log"}
DELETE = {"DELETE_FROM_DATABASE": "delete", "DEPRECATE_IN_DATABASE": "deprecate", "LOG": "log"}
RECRAWL = {"CRAWL_EVERYTHING": "everything", "CRAWL_NEW_FOLDERS_ONLY": "new_folders_only"}
CRAWLER_KIND = "glue-crawler"
DATABASE_KIND = "glue-database"


def _invert(d: dict[str, str]) -> dict[str, str]:
    return {v: k for k, v in d.items()}


def _field(body: dict[str, Any], key: str, kind: type | tuple[type, ...] = str) -> Any:
    value = body.get(key)
    if value is None:
        raise AwsError("InvalidInputException", f"{key} is required")
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise AwsError("InvalidInputException", f"{key} has the wrong type")
    return value


def _optional(body: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = body.get(key, default)
    if value is not None and not isinstance(value, kind):
        raise AwsError("InvalidInputException", f"{key} has the wrong type")
    return value


def _page(
    items: list[Any], body: dict[str, Any], key: Callable[[Any], str]
) -> tuple[list[Any], str | None]:
    """Glue paging: ``NextToken`` is the key of the last item returned."""
    token = _optional(body, "NextToken", str)
    limit = _optional(body, "MaxResults", int, 1000) or 1000
    if token:
        items = [i for i in items if key(i) > token]
    page = items[:limit]
    return page, (key(page[-1]) if len(items) > limit else None)


class GlueOperations(dict[str, Operation]):
    """The Glue operations of one endpoint (one open catalog shared by every call)."""

    def __init__(self, context: AwsContext) -> None:
        super().__init__()
        self.context = context
        self.settings = context.settings
        self.catalog: Catalog = open_catalog(self.settings)
        self.lake = Lake.from_settings(self.settings)
        crawls.ensure_default_crawlers(self.catalog, self.settings)
        for name in dir(self):
            if name[:1].isupper():
                self[name] = self._guarded(getattr(self, name))

    def close(self) -> None:
        self.catalog.close()

    @staticmethod
    def _guarded(op: Operation) -> Operation:
        @functools.wraps(op)
        def run(body: dict[str, Any]) -> dict[str, Any]:
            try:
                return op(body)
            except (
                NoSuchDatabaseError,
                NoSuchTableError,
                NoSuchPartitionError,
                NoSuchCrawlerError,
                NoSuchJobRunError,
                NoSuchResourceError,
                glue_jobs.NoSuchJobError,
            ) as exc:
                raise AwsError("EntityNotFoundException", str(exc)) from None
            except (TableExistsError, ResourceExistsError) as exc:
                raise AwsError("AlreadyExistsException", str(exc)) from None
            except CrawlerRunningError as exc:
                raise AwsError("CrawlerRunningException", str(exc)) from None
            except CrawlerNotRunningError as exc:
                raise AwsError("CrawlerNotRunningException", str(exc)) from None
            except TransformRunningError as exc:
                raise AwsError("ConcurrentRunsExceededException", str(exc)) from None
            except (
                library.InvalidLocationError,
                library.InvalidExpressionError,
                glue_jobs.InvalidJobArgumentError,
            ) as exc:
                raise AwsError("InvalidInputException", str(exc)) from None
            except CatalogError as exc:
                raise AwsError("InternalServiceException", str(exc), 500) from None

        return run

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
        name = _field(ti, "Name")
        sd = _optional(ti, "StorageDescriptor", dict, {}) or {}
        params = _optional(ti, "Parameters", dict, {}) or {}
        if not all(isinstance(v, str) for v in params.values()):
            raise AwsError("InvalidInputException", "Parameters values must be strings")
        location = _optional(sd, "Location", str, "") or ""
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

    def _partition_out(self, t: Table, p: Partition) -> dict[str, Any]:
        sd = self._table_out(t)["StorageDescriptor"]
        sd["Location"] = self.lake.uri(p.location)
        return {
            "Values": list(p.values),
            "DatabaseName": t.database,
            "TableName": t.name,
            "CreationTime": p.created_at,
            "LastAccessTime": p.updated_at,
            "StorageDescriptor": sd,
            "Parameters": {},
            "CatalogId": self.context.account_id,
        }

    # ---- databases -------------------------------------------------------------------------
    def CreateDatabase(self, body: dict[str, Any]) -> dict[str, Any]:
        di = _field(body, "DatabaseInput", dict)
        name = _field(di, "Name").lower()
        if name in self.catalog.list_databases():
            raise AwsError("AlreadyExistsException", f"Database {name} already exists.")
        self.catalog.create_database(name, exist_ok=False)
        self.catalog.put_resource(DATABASE_KIND, name, di)
        return {}

    def _database_out(self, name: str) -> dict[str, Any]:
        try:
            extra = self.catalog.get_resource(DATABASE_KIND, name).body
        except NoSuchResourceError:
            extra = {}
        return {
            "Name": name,
            "CatalogId": self.context.account_id,
            **{k: extra[k] for k in ("Description", "LocationUri", "Parameters") if k in extra},
        }

    def GetDatabase(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _field(body, "Name")
        if name not in self.catalog.list_databases():
            raise AwsError("EntityNotFoundException", f"Database {name} not found.")
        return {"Database": self._database_out(name)}

    def GetDatabases(self, body: dict[str, Any]) -> dict[str, Any]:
        page, token = _page(self.catalog.list_databases(), body, str)
        out: dict[str, Any] = {"DatabaseList": [self._database_out(n) for n in page]}
        if token:
            out["NextToken"] = token
        return out

    # ---- tables ----------------------------------------------------------------------------
    def _database(self, body: dict[str, Any]) -> str:
        name = _field(body, "DatabaseName")
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
                self.catalog.get_table(self._database(body), _field(body, "Name"))
            )
        }

    def GetTables(self, body: dict[str, Any]) -> dict[str, Any]:
        tables = self.catalog.list_tables(self._database(body))
        pattern = _optional(body, "Expression", str)
        if pattern:
            import re

            try:
                rx = re.compile(pattern.replace("*", ".*") if ".*" not in pattern else pattern)
            except re.error as exc:
                raise AwsError("InvalidInputException", f"Expression: {exc}") from None
            tables = [t for t in tables if rx.fullmatch(t.name)]
        page, token = _page(tables, body, lambda t: t.name)
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
        self.catalog.drop_table(self._database(body), _field(body, "Name"))
        return {}

    # ---- partitions ------------------------------------------------------------------------
    def _table(self, body: dict[str, Any]) -> Table:
        return self.catalog.get_table(self._database(body), _field(body, "TableName"))

    def GetPartitions(self, body: dict[str, Any]) -> dict[str, Any]:
        t = self._table(body)
        parts = self.catalog.list_partitions(t.database, t.name)
        parts = library.filter_partitions(t, parts, _optional(body, "Expression", str, "") or "")
        page, token = _page(parts, body, lambda p: "\x00".join(p.values))
        out: dict[str, Any] = {"Partitions": [self._partition_out(t, p) for p in page]}
        if token:
            out["NextToken"] = token
        return out

    def GetPartition(self, body: dict[str, Any]) -> dict[str, Any]:
        t = self._table(body)
        values = _field(body, "PartitionValues", list)
        return {
            "Partition": self._partition_out(
                t, self.catalog.get_partition(t.database, t.name, [str(v) for v in values])
            )
        }

    def BatchCreatePartition(self, body: dict[str, Any]) -> dict[str, Any]:
        t = self._table(body)
        inputs = _field(body, "PartitionInputList", list)
        if len(inputs) > 100:
            raise AwsError(
                "InvalidInputException", "PartitionInputList holds at most 100 partitions"
            )
        known = {
            p.values
            for p in self.catalog.list_partitions(t.database, t.name, include_deprecated=True)
        }
        errors: list[dict[str, Any]] = []
        new: list[Partition] = []
        for i, pi in enumerate(inputs):
            values = pi.get("Values") if isinstance(pi, dict) else None
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise AwsError(
                    "InvalidInputException", f"PartitionInputList[{i}].Values must be strings"
                )
            sd = pi.get("StorageDescriptor") or {}
            loc = sd.get("Location") if isinstance(sd, dict) else None
            if loc is None:
                names = [k.name for k in t.partition_keys]
                key = (
                    t.location
                    + "/".join(f"{n}={v}" for n, v in zip(names, values, strict=False))
                    + "/"
                )
            else:
                key = library.lake_key(self.settings, self.lake, str(loc))
            try:
                if tuple(values) in known:
                    raise ResourceExistsError("Partition already exists.")
                new.append(library.declared_partition(self.lake, t, values, key))
                known.add(tuple(values))
            except (CatalogError, ResourceExistsError) as exc:
                code = (
                    "AlreadyExistsException"
                    if isinstance(exc, ResourceExistsError)
                    else "InvalidInputException"
                )
                errors.append(
                    {
                        "PartitionValues": values,
                        "ErrorDetail": {"ErrorCode": code, "ErrorMessage": str(exc)},
                    }
                )
        if new:
            self.catalog.commit_partitions(t.database, t.name, upsert=new)
        return {"Errors": errors}

    def BatchDeletePartition(self, body: dict[str, Any]) -> dict[str, Any]:
        t = self._table(body)
        wanted = _field(body, "PartitionsToDelete", list)
        if len(wanted) > 25:
            raise AwsError(
                "InvalidInputException", "PartitionsToDelete holds at most 25 partitions"
            )
        known = {
            p.values
            for p in self.catalog.list_partitions(t.database, t.name, include_deprecated=True)
        }
        errors, delete = [], []
        for w in wanted:
            values = w.get("Values") if isinstance(w, dict) else None
            if not isinstance(values, list):
                raise AwsError("InvalidInputException", "PartitionsToDelete[].Values is required")
            if tuple(str(v) for v in values) in known:
                delete.append([str(v) for v in values])
            else:
                errors.append(
                    {
                        "PartitionValues": values,
                        "ErrorDetail": {
                            "ErrorCode": "EntityNotFoundException",
                            "ErrorMessage": "Partition not found.",
                        },
                    }
                )
        if delete:
            self.catalog.commit_partitions(t.database, t.name, delete=delete)
        return {"Errors": errors}

    # ---- crawlers --------------------------------------------------------------------------
    def _crawler_in(
        self, body: dict[str, Any], base: Crawler | None
    ) -> tuple[Crawler, dict[str, Any]]:
        name = _field(body, "Name")
        extra: dict[str, Any] = {}
        if base is not None:
            with contextlib.suppress(NoSuchResourceError):
                extra = dict(self.catalog.get_resource(CRAWLER_KIND, name).body)
        c = base or Crawler(name=name, targets=[], database=self.settings.catalog.database)
        for key in ("Role", "Description", "Schedule", "Configuration", "Classifiers"):
            if key in body:
                extra[key] = body[key]
        if "DatabaseName" in body:
            c.database = _field(body, "DatabaseName")
        if "TablePrefix" in body:
            c.table_prefix = _field(body, "TablePrefix")
        if "Targets" in body:
            targets = _field(body, "Targets", dict)
            s3 = targets.get("S3Targets") or []
            others = [k for k, v in targets.items() if k != "S3Targets" and v]
            if others or not isinstance(s3, list) or not s3:
                raise AwsError("InvalidInputException", "trafficlake crawlers take S3Targets only")
            paths = [_field(t, "Path") if isinstance(t, dict) else "" for t in s3]
            c.targets = [library.lake_key(self.settings, self.lake, p) for p in paths]
            extra["S3Targets"] = s3
        if "SchemaChangePolicy" in body:
            scp = _field(body, "SchemaChangePolicy", dict)
            try:
                c.schema_change_policy = UPDATE[scp.get("UpdateBehavior", "UPDATE_IN_DATABASE")]
                c.delete_behavior = DELETE[scp.get("DeleteBehavior", "DEPRECATE_IN_DATABASE")]
            except KeyError as exc:
                raise AwsError(
                    "InvalidInputException", f"SchemaChangePolicy: unknown behaviour {exc}"
                ) from None
        if "RecrawlPolicy" in body:
            behaviour = _field(body, "RecrawlPolicy", dict).get(
                "RecrawlBehavior", "CRAWL_EVERYTHING"
            )
            if behaviour not in RECRAWL:
                raise AwsError(
                    "InvalidInputException", f"RecrawlBehavior {behaviour} is not supported"
                )
            c.recrawl_policy = RECRAWL[behaviour]
        if not c.targets:
            raise AwsError("InvalidInputException", "Targets.S3Targets is required")
        return c, extra

    def _crawler_out(self, c: Crawler) -> dict[str, Any]:
        try:
            extra = self.catalog.get_resource(CRAWLER_KIND, c.name).body
        except NoSuchResourceError:
            extra = {}
        s3 = extra.get("S3Targets") or [
            {"Path": self.lake.uri(t), "Exclusions": []} for t in c.targets
        ]
        out: dict[str, Any] = {
            "Name": c.name,
            "Role": extra.get("Role", "trafficlake"),
            "Targets": {
                "S3Targets": s3,
                "JdbcTargets": [],
                "DynamoDBTargets": [],
                "CatalogTargets": [],
            },
            "DatabaseName": c.database,
            "Classifiers": extra.get("Classifiers", []),
            "RecrawlPolicy": {"RecrawlBehavior": _invert(RECRAWL)[c.recrawl_policy]},
            "SchemaChangePolicy": {
                "UpdateBehavior": _invert(UPDATE)[c.schema_change_policy],
                "DeleteBehavior": _invert(DELETE)[c.delete_behavior],
            },
            "State": c.state,
            "TablePrefix": c.table_prefix,
            "CreationTime": c.created_at,
            "LastUpdated": c.created_at,
            "Version": 1,
        }
        for key in ("Description", "Configuration"):
            if key in extra:
                out[key] = extra[key]
        if "Schedule" in extra:
            out["Schedule"] = {"ScheduleExpression": extra["Schedule"], "State": "SCHEDULED"}
        current = c.last_crawl
        if c.state != "READY" and current is not None and current.started_at:
            out["CrawlElapsedTime"] = int(max(0.0, _now() - current.started_at) * 1000)
        last = library.last_finished_crawl(self.catalog, c)
        if last is not None:
            out["LastCrawl"] = {
                "Status": last.status,
                "StartTime": last.started_at,
                "LogGroup": "/aws-glue/crawlers",
                "LogStream": c.name,
                "MessagePrefix": last.id,
                **({"ErrorMessage": last.error_message} if last.error_message else {}),
            }
        return out

    def _crawler(self, name: str) -> Crawler:
        return crawls.get_crawler(self.catalog, self.settings, name)

    def CreateCrawler(self, body: dict[str, Any]) -> dict[str, Any]:
        _field(body, "Role")
        crawler, extra = self._crawler_in(body, None)
        try:
            self.catalog.get_crawler(crawler.name)
            raise AwsError("AlreadyExistsException", f"{crawler.name} already exists")
        except NoSuchCrawlerError:
            pass
        self.catalog.create_crawler(crawler)
        self.catalog.put_resource(CRAWLER_KIND, crawler.name, extra)
        return {}

    def UpdateCrawler(self, body: dict[str, Any]) -> dict[str, Any]:
        current = self._crawler(_field(body, "Name"))
        if current.state != "READY":
            raise AwsError("CrawlerRunningException", f"Crawler {current.name} is running")
        crawler, extra = self._crawler_in(body, current)
        self.catalog.update_crawler(crawler)
        self.catalog.put_resource(CRAWLER_KIND, crawler.name, extra)
        return {}

    def GetCrawler(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"Crawler": self._crawler_out(self._crawler(_field(body, "Name")))}

    def GetCrawlers(self, body: dict[str, Any]) -> dict[str, Any]:
        page, token = _page(self.catalog.list_crawlers(), body, lambda c: c.name)
        out: dict[str, Any] = {"Crawlers": [self._crawler_out(c) for c in page]}
        if token:
            out["NextToken"] = token
        return out

    def ListCrawlers(self, body: dict[str, Any]) -> dict[str, Any]:
        page, token = _page([c.name for c in self.catalog.list_crawlers()], body, str)
        return {"CrawlerNames": page, **({"NextToken": token} if token else {})}

    def StartCrawler(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _field(body, "Name")
        crawler = self._crawler(name)
        if crawler.state != "READY":
            raise AwsError(
                "CrawlerRunningException", f"Crawler with name {name} has already started"
            )
        crawls.start_crawler(self.settings, name, wait=False)
        return {}

    def StopCrawler(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _field(body, "Name")
        crawler = self._crawler(name)
        if crawler.state == "STOPPING":
            raise AwsError("CrawlerStoppingException", f"Crawler {name} is stopping")
        if crawler.state != "RUNNING":
            raise AwsError("CrawlerNotRunningException", f"Crawler {name} isn't running")
        self.catalog.request_stop(name)
        return {}

    def GetCrawlerMetrics(self, body: dict[str, Any]) -> dict[str, Any]:
        names = _optional(body, "CrawlerNameList", list) or [
            c.name for c in self.catalog.list_crawlers()
        ]
        out = []
        for name in names:
            c = self._crawler(str(name))
            metrics = library.describe_runs(self.catalog.list_crawl_runs(c.name, limit=20))
            elapsed = 0.0
            if c.state != "READY" and c.last_crawl is not None and c.last_crawl.started_at:
                elapsed = _now() - c.last_crawl.started_at
            left = (
                max(0.0, metrics["MedianRuntimeSeconds"] - elapsed) if c.state != "READY" else 0.0
            )
            out.append(
                {
                    "CrawlerName": c.name,
                    "TimeLeftSeconds": left,
                    "StillEstimating": False,
                    **metrics,
                }
            )
        return {"CrawlerMetricsList": out}

    # ---- jobs ------------------------------------------------------------------------------
    def CreateJob(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _field(body, "Name")
        _field(body, "Role")
        _field(body, "Command", dict)
        args = _optional(body, "DefaultArguments", dict, {}) or {}
        if not all(isinstance(v, str) for v in args.values()):
            raise AwsError("InvalidInputException", "DefaultArguments values must be strings")
        if name == glue_jobs.BUILTIN_JOB:
            raise AwsError("AlreadyExistsException", f"Job {name} already exists (built in)")
        self.catalog.put_resource(glue_jobs.JOB_KIND, name, body, mode="create")
        return {"Name": name}

    def GetJob(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _field(body, "JobName")
        res = glue_jobs.get_job(self.catalog, name)
        job = glue_jobs.builtin_job() if res is None else dict(res.body)
        if res is not None:
            job.update(CreatedOn=res.created_at, LastModifiedOn=res.updated_at)
        return {"Job": job}

    def StartJobRun(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _field(body, "JobName")
        args = _optional(body, "Arguments", dict, {}) or {}
        if not all(isinstance(v, str) for v in args.values()):
            raise AwsError("InvalidInputException", "Arguments values must be strings")
        run = glue_jobs.start_job_run(self.settings, self.catalog, name, args)
        return {"JobRunId": run.id}

    def _run_out(self, run: JobRun) -> dict[str, Any]:
        job, args = glue_jobs.job_of_run(self.catalog, run)
        out: dict[str, Any] = {
            "Id": run.id,
            "Attempt": 0,
            "JobName": job,
            "StartedOn": run.started_at,
            "LastModifiedOn": run.ended_at or run.started_at,
            "JobRunState": run.state,
            "Arguments": args,
            "PredecessorRuns": [],
            "GlueVersion": "4.0",
        }
        if run.ended_at:
            out["CompletedOn"] = run.ended_at
            out["ExecutionTime"] = int(run.ended_at - (run.started_at or run.ended_at))
        if run.error:
            out["ErrorMessage"] = run.error
        return out

    def GetJobRun(self, body: dict[str, Any]) -> dict[str, Any]:
        run = glue_jobs.job_run(self.catalog, _field(body, "JobName"), _field(body, "RunId"))
        return {"JobRun": self._run_out(run)}

    def GetJobRuns(self, body: dict[str, Any]) -> dict[str, Any]:
        runs = glue_jobs.job_runs(self.catalog, _field(body, "JobName"))
        limit = _optional(body, "MaxResults", int, 100) or 100
        return {"JobRuns": [self._run_out(r) for r in runs[:limit]]}

    def _bookmark_out(self, name: str) -> dict[str, Any]:
        import json

        state = self.catalog.get_bookmark(glue_jobs.JOB)
        runs = glue_jobs.job_runs(self.catalog, name, limit=2)
        return {
            "JobBookmarkEntry": {
                "JobName": name,
                "Version": int((state or {}).get("version", 0) or 0),
                "Run": len(runs),
                "Attempt": 0,
                **({"RunId": runs[0].id} if runs else {}),
                **({"PreviousRunId": runs[1].id} if len(runs) > 1 else {}),
                "JobBookmark": json.dumps(state or {}),
            }
        }

    def GetJobBookmark(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _field(body, "JobName")
        glue_jobs.get_job(self.catalog, name)
        if self.catalog.get_bookmark(glue_jobs.JOB) is None:
            raise AwsError("EntityNotFoundException", f"Continuation for job {name} not found")
        return self._bookmark_out(name)

    def ResetJobBookmark(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _field(body, "JobName")
        glue_jobs.get_job(self.catalog, name)
        out = self._bookmark_out(name)
        self.catalog.reset_bookmark(glue_jobs.JOB)
        return out


def _now() -> float:
    import time

    return time.time()


ADAPTER = ServiceAdapter("AWSGlue.", GlueOperations)
