"""Athena (``AmazonAthena.``): StartQueryExecution, GetQueryExecution, BatchGetQueryExecution,
GetQueryResults, ListQueryExecutions, StopQueryExecution, GetWorkGroup and ListWorkGroups over
:mod:`trafficlake.athena.executions` (one work group, ``primary``, Athena engine version 3); the
metadata API (ListDataCatalogs, GetDataCatalog, ListDatabases, GetDatabase, ListTableMetadata,
GetTableMetadata) over :mod:`trafficlake.athena.metadata`.
"""

from __future__ import annotations

from typing import Any

from trafficlake.athena import executions as X
from trafficlake.athena import metadata as M
from trafficlake.aws.service import (
    AwsContext,
    AwsError,
    ErrorMap,
    Operation,
    ServiceAdapter,
    guarded,
)
from trafficlake.catalog import CatalogError, NoSuchQueryExecutionError, QueryExecution, Table

ENGINE = {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"}
_STATISTICS = (
    "EngineExecutionTimeInMillis", "DataScannedInBytes", "TotalExecutionTimeInMillis",
    "QueryQueueTimeInMillis", "ServicePreProcessingTimeInMillis", "QueryPlanningTimeInMillis",
    "ServiceProcessingTimeInMillis", "ResultReuseInformation",
)  # fmt: skip


ERRORS: ErrorMap = (
    ((NoSuchQueryExecutionError, X.InvalidQueryRequest), "InvalidRequestException", 400),
    (M.MetadataError, "MetadataException", 400),
    (CatalogError, "InternalServerException", 500),
)


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidRequestException", message)


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise _invalid(f"{name} must be a non-empty string")
    return value


def query_execution(q: QueryExecution) -> dict[str, Any]:
    """Athena's ``QueryExecution`` structure."""
    status: dict[str, Any] = {"State": q.state, "SubmissionDateTime": q.submitted_at}
    if q.reason:
        status["StateChangeReason"] = q.reason
    if q.completed_at is not None:
        status["CompletionDateTime"] = q.completed_at
    if q.error:
        status["AthenaError"] = q.error
    out: dict[str, Any] = {
        "QueryExecutionId": q.id,
        "Query": q.query,
        "StatementType": q.statement_type,
        "SubstatementType": q.substatement_type,
        "ResultConfiguration": {"OutputLocation": q.output_location},
        "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
        "QueryExecutionContext": {"Database": q.database, "Catalog": q.catalog},
        "Status": status,
        "Statistics": {k: q.statistics[k] for k in _STATISTICS if k in q.statistics},
        "WorkGroup": q.work_group,
        "EngineVersion": ENGINE,
    }
    return out


def table_metadata(t: Table) -> dict[str, Any]:
    """Athena's ``TableMetadata`` of a catalog table."""
    return {
        "Name": t.name,
        "CreateTime": t.created_at or 0,
        "LastAccessTime": t.updated_at or 0,
        "TableType": "EXTERNAL_TABLE",
        "Columns": [{"Name": c.name, "Type": c.type, "Comment": c.comment} for c in t.columns],
        "PartitionKeys": [
            {"Name": c.name, "Type": c.type, "Comment": c.comment} for c in t.partition_keys
        ],
        "Parameters": {k: v for k, v in t.parameters.items() if "\n" not in v},
    }


def make_operations(ctx: AwsContext) -> dict[str, Operation]:
    settings = ctx.settings

    def start(body: dict[str, Any]) -> dict[str, Any]:
        context = body.get("QueryExecutionContext") or {}
        result = body.get("ResultConfiguration") or {}
        parameters = body.get("ExecutionParameters") or []
        if not isinstance(parameters, list) or not all(isinstance(p, str) for p in parameters):
            raise _invalid("ExecutionParameters must be a list of strings")
        q = X.start_query(
            settings,
            _text(body, "QueryString"),
            database=str(context.get("Database") or "default"),
            catalog_name=str(context.get("Catalog") or "AwsDataCatalog"),
            work_group=str(body.get("WorkGroup") or X.WORK_GROUP),
            output_location=str(result.get("OutputLocation") or ""),
            parameters=parameters,
            client_token=str(body.get("ClientRequestToken") or ""),
        )
        return {"QueryExecutionId": q.id}

    def get(body: dict[str, Any]) -> dict[str, Any]:
        return {
            "QueryExecution": query_execution(
                X.get_query(settings, _text(body, "QueryExecutionId"))
            )
        }

    def batch_get(body: dict[str, Any]) -> dict[str, Any]:
        ids = body.get("QueryExecutionIds")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 50:
            raise _invalid("QueryExecutionIds must list 1 to 50 ids")
        found, missing = [], []
        for qid in ids:
            try:
                found.append(query_execution(X.get_query(settings, str(qid))))
            except NoSuchQueryExecutionError as exc:
                missing.append({"QueryExecutionId": qid, "ErrorCode": "INVALID_INPUT",
                                "ErrorMessage": str(exc)})  # fmt: skip
        return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}

    def results(body: dict[str, Any]) -> dict[str, Any]:
        max_results = body.get("MaxResults", 1000)
        if not isinstance(max_results, int) or not 1 <= max_results <= 1000:
            raise _invalid("MaxResults must be between 1 and 1000")
        page = X.query_results(
            settings, _text(body, "QueryExecutionId"), max_results=max_results,
            next_token=body.get("NextToken") or None,
        )  # fmt: skip
        rows = [{"Data": [{} if v is None else {"VarCharValue": v} for v in r]} for r in page.rows]
        out: dict[str, Any] = {
            "ResultSet": {
                "Rows": rows,
                "ResultSetMetadata": {"ColumnInfo": [c.to_api() for c in page.columns]},
            },
            "UpdateCount": page.update_count or 0,
        }
        if page.next_token:
            out["NextToken"] = page.next_token
        return out

    def list_queries(body: dict[str, Any]) -> dict[str, Any]:
        limit = body.get("MaxResults", 50)
        if not isinstance(limit, int) or not 0 <= limit <= 50:
            raise _invalid("MaxResults must be between 0 and 50")
        token = body.get("NextToken") or "0"
        if not str(token).isdigit():
            raise _invalid(f"invalid NextToken {token!r}")
        offset, limit = int(token), limit or 50
        found = X.list_queries(settings, work_group=str(body.get("WorkGroup") or X.WORK_GROUP),
                               limit=limit + 1, offset=offset)  # fmt: skip
        out: dict[str, Any] = {"QueryExecutionIds": [q.id for q in found[:limit]]}
        if len(found) > limit:
            out["NextToken"] = str(offset + limit)
        return out

    def stop(body: dict[str, Any]) -> dict[str, Any]:
        X.stop_query(settings, _text(body, "QueryExecutionId"))
        return {}

    def work_group(name: str) -> dict[str, Any]:
        X.check_work_group(name)
        return {"Name": name, "State": "ENABLED", "Description": "trafficlake's only work group",
                "CreationTime": 0, "EngineVersion": ENGINE}  # fmt: skip

    def get_work_group(body: dict[str, Any]) -> dict[str, Any]:
        wg = work_group(_text(body, "WorkGroup"))
        wg["Configuration"] = {
            "EnforceWorkGroupConfiguration": False,
            "PublishCloudWatchMetricsEnabled": False,
            "RequesterPaysEnabled": False,
            "EngineVersion": ENGINE,
        }
        return {"WorkGroup": wg}

    def list_work_groups(body: dict[str, Any]) -> dict[str, Any]:
        return {"WorkGroups": [work_group(X.WORK_GROUP)]}

    def page(items: list[Any], body: dict[str, Any], limit: int) -> tuple[list[Any], str | None]:
        size = body.get("MaxResults", limit)
        token = body.get("NextToken") or "0"
        if not isinstance(size, int) or not 1 <= size <= limit or not str(token).isdigit():
            raise _invalid(f"MaxResults must be 1 to {limit} and NextToken one this API gave")
        start = int(token)
        end = start + size
        return items[start:end], (str(end) if end < len(items) else None)

    def paged(key: str, items: list[Any], body: dict[str, Any], limit: int) -> dict[str, Any]:
        found, token = page(items, body, limit)
        out: dict[str, Any] = {key: found}
        if token:
            out["NextToken"] = token
        return out

    def data_catalog() -> dict[str, Any]:
        return {"Name": M.DATA_CATALOG, "Type": "GLUE", "Description": "the trafficlake catalog",
                "Parameters": {}}  # fmt: skip

    def list_data_catalogs(body: dict[str, Any]) -> dict[str, Any]:
        return {"DataCatalogsSummary": [{"CatalogName": M.DATA_CATALOG, "Type": "GLUE"}]}

    def get_data_catalog(body: dict[str, Any]) -> dict[str, Any]:
        M.check_data_catalog(_text(body, "Name"))
        return {"DataCatalog": data_catalog()}

    def catalog_name(body: dict[str, Any]) -> str:
        return _text(body, "CatalogName")

    def list_databases(body: dict[str, Any]) -> dict[str, Any]:
        names = M.list_databases(settings, catalog_name(body))
        return paged("DatabaseList", [{"Name": n} for n in names], body, 50)

    def get_database(body: dict[str, Any]) -> dict[str, Any]:
        name = M.get_database(settings, _text(body, "DatabaseName"), catalog_name(body))
        return {"Database": {"Name": name}}

    def list_table_metadata(body: dict[str, Any]) -> dict[str, Any]:
        tables = M.list_tables(settings, _text(body, "DatabaseName"),
                               expression=_text(body, "Expression", required=False),
                               catalog_name=catalog_name(body))  # fmt: skip
        return paged("TableMetadataList", [table_metadata(t) for t in tables], body, 50)

    def get_table_metadata(body: dict[str, Any]) -> dict[str, Any]:
        table = M.get_table(settings, _text(body, "DatabaseName"), _text(body, "TableName"),
                            catalog_name(body))  # fmt: skip
        return {"TableMetadata": table_metadata(table)}

    ops = {
        "ListDataCatalogs": list_data_catalogs,
        "GetDataCatalog": get_data_catalog,
        "ListDatabases": list_databases,
        "GetDatabase": get_database,
        "ListTableMetadata": list_table_metadata,
        "GetTableMetadata": get_table_metadata,
        "StartQueryExecution": start,
        "GetQueryExecution": get,
        "BatchGetQueryExecution": batch_get,
        "GetQueryResults": results,
        "ListQueryExecutions": list_queries,
        "StopQueryExecution": stop,
        "GetWorkGroup": get_work_group,
        "ListWorkGroups": list_work_groups,
    }
    return {name: guarded(fn, ERRORS) for name, fn in ops.items()}


ADAPTER = ServiceAdapter("AmazonAthena.", make_operations)
