"""Row <-> dataclass conversion for the SQL catalog."""

from __future__ import annotations

import json
from typing import Any

from trafficlake.catalog.base import (
    Column,
    CrawlRun,
    DataFile,
    Execution,
    JobRun,
    Partition,
    Table,
)


def _columns(text: str) -> list[Column]:
    return [Column(name, type_, comment) for name, type_, comment in json.loads(text)]


def table_from_row(row: Any) -> Table:
    return Table(
        database=row.database_name,
        name=row.name,
        columns=_columns(row.columns),
        partition_keys=_columns(row.partition_keys),
        location=row.location,
        format=row.format,
        parameters=json.loads(row.parameters),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def partition_from_row(row: Any, stats: dict[str, tuple[Any, Any]]) -> Partition:
    return Partition(
        database=row.database_name,
        table=row.table_name,
        values=tuple(json.loads(row.pvalues)),
        location=row.location,
        files=[DataFile(key, size, rows) for key, size, rows in json.loads(row.files)],
        row_count=row.row_count,
        size_bytes=row.size_bytes,
        stats=stats,
        deprecated=bool(row.deprecated),
        version=int(row.version),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def stat_row(partition_id: int, column: str, lo: Any, hi: Any) -> dict[str, Any]:
    """A ``tl_partition_stats`` row; numbers are stored as numbers so comparisons are numeric."""
    kind = _kind(lo if lo is not None else hi)
    numeric = kind in ("int", "float", "bool")
    return {
        "partition_id": partition_id,
        "column_name": column,
        "kind": kind,
        "min_num": float(lo) if numeric and lo is not None else None,
        "max_num": float(hi) if numeric and hi is not None else None,
        "min_text": None if lo is None else str(int(lo) if kind == "bool" else lo),
        "max_text": None if hi is None else str(int(hi) if kind == "bool" else hi),
    }


def _typed(kind: str, text: str | None) -> Any:
    if text is None:
        return None
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return bool(int(text))
    return text


def stat_value(row: Any) -> tuple[Any, Any]:
    return (_typed(row.kind, row.min_text), _typed(row.kind, row.max_text))


def crawl_run_from_row(row: Any) -> CrawlRun:
    return CrawlRun(
        id=row.id,
        crawler=row.crawler,
        status=row.status,
        started_at=row.started_at,
        ended_at=row.ended_at,
        tables_created=row.tables_created,
        tables_updated=row.tables_updated,
        partitions_added=row.partitions_added,
        partitions_updated=row.partitions_updated,
        partitions_removed=row.partitions_removed,
        error_message=row.error_message,
        messages=json.loads(row.messages or "[]"),
    )


def job_run_from_row(row: Any) -> JobRun:
    return JobRun(
        id=row.id,
        job=row.job,
        state=row.state,
        arguments=json.loads(row.arguments),
        result=json.loads(row.result),
        error=row.error,
        started_at=row.started_at,
        ended_at=row.ended_at,
        owner=row.owner,
    )


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def execution_from_row(row: Any) -> Execution:
    return Execution(
        id=row.id,
        state_machine=row.state_machine,
        name=row.name,
        status=row.status,
        input=_load(row.input),
        output=_load(row.output),
        error=row.error,
        cause=row.cause,
        started_at=row.started_at,
        stopped_at=row.stopped_at,
        owner=row.owner,
    )
