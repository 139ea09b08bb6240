"""The catalog (Glue Data Catalog analog): see :mod:`trafficlake.catalog.base`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trafficlake.catalog.base import (
    AlreadyExistsError,
    Catalog,
    CatalogBackend,
    CatalogError,
    Column,
    Crawler,
    CrawlerCatalog,
    CrawlerNotRunningError,
    CrawlerRunningError,
    CrawlRun,
    DataFile,
    Execution,
    ExecutionCatalog,
    HistoryEvent,
    JobCatalog,
    JobRun,
    JobRunningError,
    NoSuchCrawlerError,
    NoSuchDatabaseError,
    NoSuchExecutionError,
    NoSuchJobRunError,
    NoSuchPartitionError,
    NoSuchQueryExecutionError,
    NoSuchResourceError,
    NoSuchTableError,
    Partition,
    PartitionChangedError,
    QueryCatalog,
    QueryExecution,
    Resource,
    ResourceExistsError,
    Table,
    TableCatalog,
    TableExistsError,
)

if TYPE_CHECKING:
    from trafficlake.config import Settings

__all__ = [
    "AlreadyExistsError",
    "Catalog",
    "CatalogBackend",
    "CatalogError",
    "Column",
    "CrawlRun",
    "Crawler",
    "CrawlerCatalog",
    "CrawlerNotRunningError",
    "CrawlerRunningError",
    "DataFile",
    "Execution",
    "ExecutionCatalog",
    "HistoryEvent",
    "JobCatalog",
    "JobRun",
    "JobRunningError",
    "NoSuchCrawlerError",
    "NoSuchDatabaseError",
    "NoSuchExecutionError",
    "NoSuchJobRunError",
    "NoSuchPartitionError",
    "NoSuchQueryExecutionError",
    "NoSuchResourceError",
    "NoSuchTableError",
    "Partition",
    "PartitionChangedError",
    "QueryCatalog",
    "QueryExecution",
    "Resource",
    "ResourceExistsError",
    "Table",
    "TableCatalog",
    "TableExistsError",
    "open_catalog",
]


def open_catalog(url: str | Settings) -> Catalog:
    """Open the catalog at ``url`` (``sqlite:///...`` or ``postgresql://...``) or from settings."""
    busy: dict[str, float] = {}
    if not isinstance(url, str):
        busy["busy_timeout_s"] = url.catalog.busy_timeout_s
        url = url.catalog_url
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme in ("sqlite", "postgresql", "postgres"):
        from trafficlake.catalog.sql import SqlCatalog

        return SqlCatalog(url, **busy)
    from trafficlake.catalog.sql import redacted

    raise CatalogError(
        f"unsupported catalog URL {redacted(url)!r}: use sqlite:///PATH or postgresql://..."
    )
