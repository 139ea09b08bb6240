"""The catalog interface (docs/architecture.md, "The catalog"): a Glue-Data-Catalog-shaped model and one narrow API.

Backends live one per module (``sql.py`` serves SQLite and PostgreSQL) and are chosen by URL
scheme through :func:`open_catalog`. The interface is split by concern - :class:`TableCatalog`
(databases, tables, partitions), :class:`CrawlerCatalog`, :class:`JobCatalog` (bookmarks, job
runs), :class:`ExecutionCatalog` (workflow executions, history) and :class:`QueryCatalog`
(Athena query executions) - so a backend implements what it serves; :class:`Catalog` is all
of them in one store (the SQL backend), and what every
area is handed by :func:`open_catalog`. Code that needs one concern only types against it.

Conventions
- Table and partition *locations* and data file *keys* are lake-relative keys
  (``raw/year=2026/month=11/day=21/hour=7/``), so a lake can move without rewriting the catalog;
  turn them into engine paths with :meth:`trafficlake.storage.Lake.uri`.
- Partition ``values`` are strings in partition-key order, as in Glue.
- Timestamps are epoch seconds (float, UTC).
- Every partition carries a catalog-assigned ``version``: a catalog-wide, strictly increasing
  change sequence set whenever the partition is added or changed. Job bookmarks remember the
  highest version they consumed (``changed_since``) - this is how incremental runs avoid listing
  the lake.
- Methods that change several rows do so in one transaction.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from trafficlake.errors import TrafficlakeError

# ---- errors ---------------------------------------------------------------------------------


class CatalogError(TrafficlakeError):
    """Base of catalog errors."""


class NoSuchDatabaseError(CatalogError):
    pass


class NoSuchTableError(CatalogError):
    pass


class AlreadyExistsError(CatalogError):
    """Creating something (database, table, crawler, run, execution) whose name is taken."""


class TableExistsError(AlreadyExistsError):
    pass


class NoSuchPartitionError(CatalogError):
    pass


class NoSuchCrawlerError(CatalogError):
    pass


class CrawlerRunningError(CatalogError):
    """Raised when starting a crawler that is RUNNING or STOPPING (like Glue's)."""


class CrawlerNotRunningError(CatalogError):
    pass


class NoSuchJobRunError(CatalogError):
    pass


class JobRunningError(CatalogError):
    """``create_job_run(..., exclusive=True)``: another run of the job is RUNNING."""


class PartitionChangedError(CatalogError):
    """``commit_partitions(expect=...)``: a partition changed since the caller read it."""


class NoSuchExecutionError(CatalogError):
    pass


class NoSuchQueryExecutionError(CatalogError):
    pass


class NoSuchResourceError(CatalogError):
    pass


class ResourceExistsError(AlreadyExistsError):
    pass


# ---- model ----------------------------------------------------------------------------------

INT_TYPES = ("tinyint", "smallint", "int", "integer", "bigint")
"""The Hive integer types: partition values of a key of these types compare as numbers."""


@dataclass
class Column:
    name: str
    type: str
    """Hive type name: tinyint, smallint, int, bigint, double, float, boolean, string, ..."""
    comment: str = ""


@dataclass
class Table:
    database: str
    name: str
    columns: list[Column]
    partition_keys: list[Column] = field(default_factory=list)
    location: str = ""
    format: str = "parquet"
    """parquet | json"""
    parameters: dict[str, str] = field(default_factory=dict)
    """e.g. classification, recordCount, sizeKey, crawler name, schema change log."""
    created_at: float | None = None
    updated_at: float | None = None
    definition: dict[str, Any] = field(default_factory=dict)
    """Glue TableInput fields kept as given that the model has no field for (TableType,
    Description, StorageDescriptor InputFormat/OutputFormat/SerdeInfo/..., the s3:// Location)."""

    @property
    def full_name(self) -> str:
        return f"{self.database}.{self.name}"


@dataclass
class DataFile:
    key: str
    """Lake-relative key of the file."""
    size: int
    row_count: int | None = None


@dataclass
class Partition:
    database: str
    table: str
    values: tuple[str, ...]
    location: str
    files: list[DataFile] = field(default_factory=list)
    row_count: int | None = None
    size_bytes: int = 0
    stats: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """column -> (min, max), read from Parquet footers for the configured stats columns."""
    deprecated: bool = False
    version: int = 0
    """Catalog-assigned change sequence (set by the catalog on every add/change)."""
    created_at: float | None = None
    updated_at: float | None = None

    def as_dict(self, keys: Sequence[Column] | Sequence[str]) -> dict[str, str]:
        names = [k.name if isinstance(k, Column) else k for k in keys]
        return dict(zip(names, self.values, strict=True))


CRAWLER_STATES = ("READY", "RUNNING", "STOPPING")
CRAWL_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")


@dataclass
class Crawler:
    name: str
    targets: list[str]
    """Lake-relative prefixes, each becomes one table (e.g. ``raw/`` -> ``traffic.raw``)."""
    database: str = "traffic"
    table_prefix: str = ""
    schema_change_policy: str = "update"
    """update | log"""
    delete_behavior: str = "deprecate"
    """delete | deprecate | log"""
    recrawl_policy: str = "everything"
    """everything | new_folders_only"""
    state: str = "READY"
    last_crawl: CrawlRun | None = None
    created_at: float | None = None


@dataclass
class CrawlRun:
    id: str
    crawler: str
    status: str = "RUNNING"
    started_at: float | None = None
    ended_at: float | None = None
    tables_created: int = 0
    tables_updated: int = 0
    partitions_added: int = 0
    partitions_updated: int = 0
    partitions_removed: int = 0
    error_message: str | None = None
    messages: list[str] = field(default_factory=list)
    """Notes such as schema changes logged (not applied) under the log policy."""


JOB_RUN_STATES = ("RUNNING", "SUCCEEDED", "FAILED")


@dataclass
class JobRun:
    id: str
    job: str
    state: str = "RUNNING"
    arguments: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    """e.g. rows_written, partitions_replaced, days."""
    error: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    owner: str = ""
    """host:pid of the process running it (to detect runs killed with their process)."""


@dataclass
class Resource:
    """A named JSON definition (a Glue job, an event rule, ...) of some ``kind``."""

    kind: str
    name: str
    body: dict[str, Any]
    created_at: float
    updated_at: float


EXECUTION_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass
class Execution:
    id: str
    """Execution ARN-like id: ``<state machine>:<name>``."""
    state_machine: str
    name: str
    status: str = "RUNNING"
    input: Any = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    started_at: float | None = None
    stopped_at: float | None = None
    owner: str = ""


@dataclass
class HistoryEvent:
    id: int
    type: str
    """AWS event names: ExecutionStarted, TaskStateEntered, TaskSucceeded, ..."""
    timestamp: float
    previous_event_id: int = 0
    details: dict[str, Any] = field(default_factory=dict)


QUERY_STATES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
QUERY_ACTIVE_STATES = ("QUEUED", "RUNNING")


@dataclass
class QueryExecution:
    """One Athena query execution (the Athena API's history, persisted)."""

    id: str
    query: str
    statement_type: str = "DML"
    """DDL | DML | UTILITY"""
    substatement_type: str = ""
    """SELECT, INSERT, CREATE_TABLE_AS_SELECT, SHOW_TABLES, ..."""
    database: str = ""
    catalog: str = "AwsDataCatalog"
    work_group: str = "primary"
    output_location: str = ""
    """The result file's URI (``s3://bucket/prefix/<id>.csv``), empty when there is none."""
    state: str = "QUEUED"
    reason: str | None = None
    """Athena's StateChangeReason (``SYNTAX_ERROR: line 1:8: ...``)."""
    error: dict[str, Any] = field(default_factory=dict)
    """Athena's AthenaError: ErrorCategory, ErrorType, Retryable, ErrorMessage."""
    statistics: dict[str, Any] = field(default_factory=dict)
    """Athena's QueryExecutionStatistics (milliseconds, bytes scanned) plus ``rows``."""
    submitted_at: float | None = None
    completed_at: float | None = None
    owner: str = ""


# ---- interface ------------------------------------------------------------------------------


class CatalogBackend(abc.ABC):
    """What every backend has, whatever it serves: its URL and ``close``."""

    url: str

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TableCatalog(CatalogBackend):
    """Databases, tables and their partitions (with versions): what the crawler publishes,
    the transform commits and the query layer reads. Bookmarks are written here too, inside
    ``commit_partitions``, so that output and bookmark move in one transaction."""

    # databases
    @abc.abstractmethod
    def create_database(self, name: str, *, exist_ok: bool = True) -> None: ...

    @abc.abstractmethod
    def list_databases(self) -> list[str]: ...

    @abc.abstractmethod
    def drop_database(self, name: str) -> None:
        """Drop a database with its tables and their partitions, in one transaction (data
        files are left alone); raises NoSuchDatabaseError."""

    # tables
    @abc.abstractmethod
    def create_table(self, table: Table) -> Table:
        """Create a table; raises TableExistsError (and NoSuchDatabaseError)."""

    @abc.abstractmethod
    def get_table(self, database: str, name: str) -> Table:
        """Raises NoSuchTableError."""

    @abc.abstractmethod
    def list_tables(self, database: str | None = None) -> list[Table]: ...

    @abc.abstractmethod
    def update_table(self, table: Table) -> Table: ...

    @abc.abstractmethod
    def drop_table(self, database: str, name: str) -> None:
        """Drop a table and its partitions (data files are left alone)."""

    # partitions
    @abc.abstractmethod
    def list_partitions(
        self,
        database: str,
        table: str,
        *,
        where: Mapping[str, str | int] | None = None,
        overlapping: tuple[str, Any, Any] | None = None,
        changed_since: int | None = None,
        include_deprecated: bool = False,
    ) -> list[Partition]:
        """Partitions of a table, sorted by values.

        ``where``: exact partition-key values (``{"year": 2026, "day": 21}``).
        ``overlapping``: ``(column, lo, hi)`` keeps partitions whose recorded min/max of
        ``column`` intersects ``[lo, hi]``; partitions without stats for it are kept.
        ``changed_since``: only partitions whose ``version`` is greater.
        """

    @abc.abstractmethod
    def get_partition(self, database: str, table: str, values: Sequence[str]) -> Partition:
        """Raises NoSuchPartitionError."""

    def list_partition_locations(
        self, database: str, table: str
    ) -> dict[str, tuple[tuple[str, ...], bool]]:
        """``location -> (values, deprecated)`` of every partition, without files or stats:
        the cheap index an incremental crawl walks the lake against. Raises NoSuchTableError."""
        parts = self.list_partitions(database, table, include_deprecated=True)
        return {p.location: (p.values, p.deprecated) for p in parts}

    @abc.abstractmethod
    def commit_partitions(
        self,
        database: str,
        table: str,
        *,
        upsert: Sequence[Partition] = (),
        delete: Sequence[Sequence[str]] = (),
        bookmark: tuple[str, dict[str, Any]] | None = None,
        expect: Mapping[tuple[str, ...], int | None] | None = None,
    ) -> int:
        """In ONE transaction: add or replace ``upsert`` partitions (each gets a new version),
        delete the ``delete`` partitions, and set the bookmark ``(job, state)`` if given.
        ``expect`` (compare-and-set): partition values -> the version the caller read (None:
        absent); if any differs inside the transaction, nothing changes and
        PartitionChangedError is raised. Returns the highest version assigned (or the current
        one if nothing changed)."""

    @abc.abstractmethod
    def current_version(self) -> int:
        """The highest partition version assigned so far (0 for a new catalog)."""


class CrawlerCatalog(CatalogBackend):
    """Crawler definitions, their READY/RUNNING/STOPPING state and their runs."""

    @abc.abstractmethod
    def create_crawler(self, crawler: Crawler, *, exist_ok: bool = False) -> Crawler: ...

    @abc.abstractmethod
    def get_crawler(self, name: str) -> Crawler:
        """Raises NoSuchCrawlerError; ``last_crawl`` is the latest run."""

    @abc.abstractmethod
    def list_crawlers(self) -> list[Crawler]: ...

    @abc.abstractmethod
    def update_crawler(self, crawler: Crawler) -> Crawler:
        """Change a crawler's definition (targets, policies); not its state."""

    @abc.abstractmethod
    def delete_crawler(self, name: str) -> None:
        """Delete a READY crawler and its runs; raises CrawlerRunningError while it is RUNNING
        or STOPPING (checked in the same transaction), NoSuchCrawlerError."""

    @abc.abstractmethod
    def start_crawl(self, name: str) -> CrawlRun:
        """Atomically move READY -> RUNNING and record a new run; raises CrawlerRunningError
        when the crawler is RUNNING or STOPPING."""

    @abc.abstractmethod
    def request_stop(self, name: str) -> None:
        """RUNNING -> STOPPING; raises CrawlerNotRunningError otherwise."""

    @abc.abstractmethod
    def finish_crawl(self, run: CrawlRun) -> None:
        """Record a run's final status and counts; the crawler goes back to READY."""

    @abc.abstractmethod
    def list_crawl_runs(self, name: str, *, limit: int = 20) -> list[CrawlRun]:
        """Newest first."""


class JobCatalog(CatalogBackend):
    """Job bookmarks and job runs (transform runs; polled by the workflow like the seed polls
    Athena)."""

    @abc.abstractmethod
    def get_bookmark(self, job: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def put_bookmark(self, job: str, state: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def reset_bookmark(self, job: str) -> None: ...

    @abc.abstractmethod
    def create_job_run(self, run: JobRun, *, exclusive: bool = False) -> JobRun:
        """Record ``run``. With ``exclusive``, atomically (one write transaction, serialised
        with every other writer) raise JobRunningError when a run of the same job is RUNNING."""

    @abc.abstractmethod
    def update_job_run(self, run: JobRun) -> JobRun: ...

    @abc.abstractmethod
    def get_job_run(self, run_id: str) -> JobRun:
        """Raises NoSuchJobRunError."""

    @abc.abstractmethod
    def list_job_runs(
        self, job: str | None = None, *, limit: int = 20, after: str | None = None
    ) -> list[JobRun]:
        """Newest first; ``after``: only runs older than the run with that id (a stable cursor
        for paging); raises NoSuchJobRunError when it is unknown."""


class ExecutionCatalog(CatalogBackend):
    """Workflow executions and their history events."""

    @abc.abstractmethod
    def create_execution(self, execution: Execution) -> Execution: ...

    @abc.abstractmethod
    def update_execution(self, execution: Execution) -> Execution: ...

    @abc.abstractmethod
    def get_execution(self, execution_id: str) -> Execution:
        """Raises NoSuchExecutionError."""

    @abc.abstractmethod
    def list_executions(
        self,
        *,
        state_machine: str | None = None,
        status: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> list[Execution]:
        """Newest first; ``after``: only those older than the execution with that id (a stable
        cursor for paging while new executions start); raises NoSuchExecutionError when it is
        unknown."""

    @abc.abstractmethod
    def add_history_events(self, execution_id: str, events: Sequence[HistoryEvent]) -> None: ...

    @abc.abstractmethod
    def get_history(self, execution_id: str) -> list[HistoryEvent]:
        """Oldest first."""


class QueryCatalog(CatalogBackend):
    """Athena query executions (the Athena API's history, persisted)."""

    @abc.abstractmethod
    def create_query_execution(self, execution: QueryExecution) -> QueryExecution: ...

    @abc.abstractmethod
    def update_query_execution(
        self, execution: QueryExecution, *, only_if_active: bool = False
    ) -> bool:
        """Store ``execution``; with ``only_if_active`` only while the stored one is still QUEUED
        or RUNNING (a compare-and-set: a stopped query stays CANCELLED). Returns whether it was
        stored. Raises NoSuchQueryExecutionError."""

    @abc.abstractmethod
    def get_query_execution(self, execution_id: str) -> QueryExecution:
        """Raises NoSuchQueryExecutionError."""

    @abc.abstractmethod
    def list_query_executions(
        self, *, work_group: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[QueryExecution]:
        """Newest first."""


class ResourceCatalog(CatalogBackend):
    """Named JSON definitions by kind: Glue job and crawler details, event rules, ..."""

    @abc.abstractmethod
    def put_resource(
        self, kind: str, name: str, body: dict[str, Any], *, mode: str = "upsert"
    ) -> Resource:
        """Save a definition. ``mode``: upsert | create (ResourceExistsError if present) |
        update (NoSuchResourceError if absent)."""

    @abc.abstractmethod
    def get_resource(self, kind: str, name: str) -> Resource:
        """Raises NoSuchResourceError."""

    @abc.abstractmethod
    def list_resources(self, kind: str) -> list[Resource]:
        """Sorted by name."""

    @abc.abstractmethod
    def delete_resource(self, kind: str, name: str) -> None:
        """Raises NoSuchResourceError."""


class Catalog(
    TableCatalog, CrawlerCatalog, JobCatalog, ExecutionCatalog, QueryCatalog, ResourceCatalog
):
    """The whole catalog - every concern in one store - as the pipeline's areas use it."""
