"""Run one Athena statement over the catalog: SELECT, INSERT INTO, CTAS and the DDL statements.

An :class:`AthenaSession` is a catalog connection (:mod:`trafficlake.query`: catalog tables as
views, partitions pruned through the catalog) prepared with Athena's session
(:func:`trafficlake.athena.translate.prepare_duckdb`). :meth:`AthenaSession.execute` returns a
:class:`StatementResult`: the rows with Athena's column types, or the row count of a write.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import duckdb
import pyarrow as pa
from sqlglot import exp

from trafficlake.athena import ddl
from trafficlake.athena.errors import AthenaQueryError, from_duckdb, not_supported, position
from trafficlake.athena.results import ColumnInfo, athena_type
from trafficlake.athena.tables import ATHENA_WRITER, check_writable, lake_key
from trafficlake.athena.translate import (
    CATALOG_NAME,
    duckdb_sql,
    parse_one,
    prepare_duckdb,
    resolve_table,
    translate,
)
from trafficlake.athena.writes import columns_for_new_table, write_select
from trafficlake.catalog import (
    Catalog,
    Column,
    NoSuchPartitionError,
    NoSuchTableError,
    Table,
    TableExistsError,
)
from trafficlake.catalog.crawl_plan import owning_writer
from trafficlake.catalog.glue import declared_partition
from trafficlake.config import Settings
from trafficlake.query import CatalogConnection, QueryError, QueryResult, ReadOnlyQueryError
from trafficlake.storage import Lake

_WORDS = re.compile(
    r"(?:\s|--[^\n]*\n?|/\*.*?\*/)*([A-Za-z]+)(?:\s+([A-Za-z]+))?(?:\s+([A-Za-z]+))?", re.S
)


@dataclass
class StatementResult:
    statement_type: str
    """DDL | DML | UTILITY"""
    substatement_type: str
    columns: list[ColumnInfo] = field(default_factory=list)
    table: pa.Table | None = None
    """The rows (None for a write or a DDL statement without output)."""
    update_count: int | None = None
    bytes_scanned: int = 0

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        """The rows as tuples (none for a write)."""
        if self.table is None:
            return []
        cols = [c.to_pylist() for c in self.table.columns]
        return list(zip(*cols, strict=True)) if cols else []


def statement_kind(sql: str) -> tuple[str, str]:
    """``(StatementType, SubstatementType)`` of a statement, from its first words."""
    m = _WORDS.match(sql)
    words = [w.upper() for w in (m.groups() if m else ()) if w]
    first = words[0] if words else ""
    second = words[1] if len(words) > 1 else ""
    if first in ("SELECT", "WITH", "VALUES", "TABLE"):
        return "DML", "SELECT"
    if first == "INSERT":
        return "DML", "INSERT"
    if first == "EXPLAIN":
        return "UTILITY", "EXPLAIN"
    if first in ("DESCRIBE", "DESC"):
        return "DDL", "DESCRIBE_TABLE"
    if first == "SHOW":
        sub = {"TABLES": "SHOW_TABLES", "PARTITIONS": "SHOW_PARTITIONS", "CREATE": "SHOW_CREATE_TABLE",
               "DATABASES": "SHOW_DATABASES", "SCHEMAS": "SHOW_DATABASES", "COLUMNS": "SHOW_COLUMNS"}  # fmt: skip
        return "DDL", sub.get(second, "SHOW")
    if first == "CREATE":
        if second in ("DATABASE", "SCHEMA"):
            return "DDL", "CREATE_DATABASE"
        if re.search(r"\bAS\s*(\(\s*)?(SELECT|WITH|VALUES)\b", sql, re.I):
            return "DDL", "CREATE_TABLE_AS_SELECT"
        return "DDL", "CREATE_TABLE"
    if first == "MSCK":
        return "DDL", "MSCK_REPAIR_TABLE"
    if first == "ALTER":
        return "DDL", "ALTER_TABLE_ADD_PARTITION" if re.search(r"\bADD\b", sql, re.I) else (
            "ALTER_TABLE_DROP_PARTITION"
        )
    if first == "DROP":
        return "DDL", "DROP_DATABASE" if second in ("DATABASE", "SCHEMA") else "DROP_TABLE"
    return "DML", first or "UNKNOWN"


class AthenaSession:
    """A DuckDB session over the catalog with Athena's semantics (one statement at a time)."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        lake: Lake,
        *,
        database: str = "default",
        query_id: str = "query",
    ) -> None:
        self.settings, self.catalog, self.lake = settings, catalog, lake
        self.database = database.lower()
        self.query_id = query_id
        try:
            self.connection = CatalogConnection(
                settings, catalog, lake, read_only=False, own_catalog=False
            )
        except (duckdb.Error, QueryError) as exc:
            raise AthenaQueryError("HIVE_METASTORE_ERROR", str(exc)) from None
        prepare_duckdb(self.connection.duckdb)
        # the session outlives its statements: keep the Parquet footers it has read (DuckDB
        # checks each file's modification time and size before it reuses one)
        self.connection.duckdb.execute("SET parquet_metadata_cache = true")
        self._source: tuple[str, exp.Expression | None] = ("", None)

    # ---- plumbing -------------------------------------------------------------------------
    def run(self, sql: str) -> duckdb.DuckDBPyConnection:
        """Run DuckDB SQL on this session (DuckDB errors become Athena errors)."""
        try:
            return self.connection.duckdb.execute(sql)
        except duckdb.Error as exc:
            error = from_duckdb(exc)
            text, tree = self._source
            if error.name == "COLUMN_NOT_FOUND" and tree is not None:
                name = error.message.split("'")[1]
                for col in tree.find_all(exp.Column):
                    if col.name.lower() == name and "start" in col.this.meta:
                        at = position(text, int(col.this.meta["start"]))
                        error = AthenaQueryError(error.name, f"{at}: {error.message}")
                        break
            raise error from None

    def interrupt(self) -> None:
        self.connection.duckdb.interrupt()

    def close(self) -> None:
        self.connection.close()

    def table_keys(self) -> set[tuple[str, str]]:
        """The catalog's tables as this statement saw them when it started."""
        return set(self.connection.tables)

    def get_table(self, node: exp.Table, sql: str) -> Table:
        db, name = resolve_table(node, database=self.database, tables=self.table_keys(), sql=sql)
        return self.connection.tables[(db, name)]

    def _prepare(self, query: exp.Expression, sql: str) -> tuple[str, int]:
        """Translate a parsed query and point the views of the tables it reads at the partitions
        it needs; returns its DuckDB SQL and the bytes those partitions hold."""
        tree = translate(
            query, sql=sql, database=self.database, tables=self.table_keys(), copy=False
        )  # the statement's own parse: rewritten in place
        for node in tree.find_all(exp.Table):
            key = (node.db, node.name)
            if key in self.connection.tables:
                self._follow_location(self.connection.tables[key])
        duck = duckdb_sql(tree)
        try:
            self.connection.prepare(duck, statements=[tree], only_referenced=True, refresh=False)
        except QueryError as exc:
            raise AthenaQueryError("HIVE_METASTORE_ERROR", str(exc)) from None
        return duck, self.connection.bytes_read

    def _follow_location(self, table: Table) -> None:
        """An unpartitioned table is whatever its location holds now (Athena lists it at query
        time): its one catalog partition follows the folder. Writer-owned tables are left to
        their writer."""
        if table.partition_keys or not table.location or owning_writer(table):
            return
        now = declared_partition(self.lake, table, (), table.location)
        try:
            old = self.catalog.get_partition(table.database, table.name, ())
        except NoSuchPartitionError:
            old = None
        if old is None or sorted((f.key, f.size) for f in old.files) != sorted(
            (f.key, f.size) for f in now.files
        ):
            self.catalog.commit_partitions(table.database, table.name, upsert=[now])

    # ---- statements -----------------------------------------------------------------------
    def execute(
        self, sql: str, *, cancelled: Callable[[], bool] = lambda: False
    ) -> StatementResult:
        kind, sub = statement_kind(sql)
        if kind == "DDL" and sub not in ("CREATE_TABLE_AS_SELECT",):
            return ddl.run(self, sql, sub)
        self.connection.refresh_tables()  # once: the statement's view of the catalog's tables
        if sub == "EXPLAIN":
            return self._explain(sql)
        tree = parse_one(sql)
        self._source = (sql, tree)
        if sub == "SELECT" and isinstance(tree, exp.Query):
            return self._select(tree, sql)
        if sub == "INSERT" and isinstance(tree, exp.Insert):
            return self._insert(tree, sql, cancelled)
        if sub == "CREATE_TABLE_AS_SELECT" and isinstance(tree, exp.Create):
            return self._ctas(tree, sql, cancelled)
        raise not_supported(f"the statement {sub}")

    def _explain(self, sql: str) -> StatementResult:
        """``EXPLAIN [ANALYZE] [(options)] statement``: DuckDB's plan of the translated query
        (one row per line, column ``Query Plan``); ANALYZE runs it, so only for a SELECT."""
        m = re.match(r"\s*EXPLAIN\s+(ANALYZE\s+)?(?:\([^)]*\)\s*)?(.*)$", sql, re.S | re.I)
        inner = m.group(2) if m else ""
        tree = parse_one(inner)
        self._source = (inner, tree)
        query = tree.expression if isinstance(tree, (exp.Insert, exp.Create)) else tree
        if query is None or not isinstance(query, exp.Query):
            raise not_supported("EXPLAIN of a statement other than SELECT, INSERT or CTAS")
        if m and m.group(1) and query is not tree:
            raise not_supported("EXPLAIN ANALYZE of a write")
        duck, _ = self._prepare(cast(exp.Expression, query), inner)
        analyze = "ANALYZE " if m and m.group(1) else ""
        text = "\n".join(str(r[-1]) for r in self.run(f"EXPLAIN {analyze}{duck}").fetchall())
        lines = text.splitlines()
        table = pa.table({"Query Plan": pa.array(lines, pa.string())})
        return StatementResult("UTILITY", "EXPLAIN", [ColumnInfo("Query Plan", "varchar")], table)

    def _select(self, tree: exp.Expression, sql: str) -> StatementResult:
        duck, scanned = self._prepare(_name_columns(tree), sql)
        described = [(str(r[0]), str(r[1])) for r in self.run(f"DESCRIBE {duck}").fetchall()]
        wide = {"HUGEINT", "UHUGEINT", "UBIGINT"}
        if any(t in wide for _, t in described):  # Trino's sums are bigint (and overflow)
            names = [f'"{n}"' for n, t in described if t in wide]
            repl = ", ".join(f"CAST({n} AS BIGINT) AS {n}" for n in names)
            duck = f"SELECT * REPLACE ({repl}) FROM ({duck})"
            described = [(n, "BIGINT" if t in wide else t) for n, t in described]
        table = self.run(duck).to_arrow_table()
        columns = [ColumnInfo(n.lower(), *athena_type(t)) for n, t in described]
        table = table.rename_columns([c.name for c in columns])
        return StatementResult("DML", "SELECT", columns, table, bytes_scanned=scanned)

    def _insert(self, tree: exp.Insert, sql: str, cancelled: Callable[[], bool]) -> StatementResult:
        target = tree.this
        names: list[str] | None = None
        if isinstance(target, exp.Schema):
            names = [c.name.lower() for c in target.expressions]
            target = target.this
        if not isinstance(target, exp.Table) or tree.expression is None:
            raise not_supported("this form of INSERT")
        table = self.get_table(target, sql)
        check_writable(table, "insert into")
        if table.format != "parquet":
            raise not_supported(f"INSERT INTO a {table.format} table")
        duck, scanned = self._prepare(tree.expression, sql)
        targets = None
        if names is not None:
            by_name = {c.name: c for c in [*table.columns, *table.partition_keys]}
            unknown = [n for n in names if n not in by_name]
            if unknown:
                raise AthenaQueryError(
                    "COLUMN_NOT_FOUND",
                    f"Insert column name does not exist in target table: {unknown[0]}",
                )
            targets = [by_name[n] for n in names]
        result = write_select(self, table, duck, targets=targets, cancelled=cancelled)
        return StatementResult("DML", "INSERT", update_count=result.rows, bytes_scanned=scanned)

    def _ctas(self, tree: exp.Create, sql: str, cancelled: Callable[[], bool]) -> StatementResult:
        node = tree.this
        query = tree.expression
        if not isinstance(node, exp.Table) or query is None:
            raise not_supported("this form of CREATE TABLE AS")
        db = (node.db or self.database).lower()
        name = node.name.lower()
        props = ddl.ctas_properties(tree)
        if (db, name) in self.table_keys():
            if tree.args.get("exists"):
                return StatementResult("DDL", "CREATE_TABLE_AS_SELECT", update_count=0)
            raise AthenaQueryError(
                "TABLE_ALREADY_EXISTS",
                f"Destination table '{CATALOG_NAME}.{db}.{name}' already exists",
            )
        if db not in self.catalog.list_databases():
            raise AthenaQueryError("SCHEMA_NOT_FOUND", f"Schema '{db}' does not exist")
        duck, scanned = self._prepare(query, sql)
        found = [(str(r[0]), str(r[1])) for r in self.run(f"DESCRIBE {duck}").fetchall()]
        columns = columns_for_new_table(found)
        keys = [k.lower() for k in props.get("partitioned_by", [])]
        if [c.name for c in columns[len(columns) - len(keys) :]] != keys or len(keys) >= len(
            columns
        ):
            raise AthenaQueryError(
                "HIVE_COLUMN_ORDER_MISMATCH",
                "Partition keys must be the last columns in the table and in the same order as "
                "the table properties: " + str(keys),
            )
        location = (
            lake_key(self.settings, self.lake, props["external_location"])
            if props.get("external_location")
            else f"tables/{self.query_id}/"
        )
        if self.lake.list(location):
            raise AthenaQueryError(
                "HIVE_PATH_ALREADY_EXISTS",
                f"Target directory for table '{db}.{name}' already exists: "
                f"{self.lake.uri(location)}",
            )
        data = columns[: len(columns) - len(keys)]
        part = [Column(c.name, c.type) for c in columns[len(columns) - len(keys) :]]
        table = Table(db, name, data, part, location=location, format="parquet",
                      parameters={"classification": "parquet", "writer": ATHENA_WRITER})  # fmt: skip
        try:
            self.catalog.create_table(table)
        except TableExistsError:
            raise AthenaQueryError(
                "TABLE_ALREADY_EXISTS",
                f"Destination table '{CATALOG_NAME}.{db}.{name}' already exists",
            ) from None
        try:
            result = write_select(self, table, duck, cancelled=cancelled)
        except BaseException:
            with contextlib.suppress(NoSuchTableError):
                self.catalog.drop_table(db, name)
            raise
        return StatementResult(
            "DDL", "CREATE_TABLE_AS_SELECT", update_count=result.rows, bytes_scanned=scanned
        )


def _name_columns(tree: exp.Expression) -> exp.Expression:
    """Trino's names for unnamed result columns: ``_col0``, ``_col1``, ... by position (in
    place: the tree is the statement's own parse)."""
    first: Any = tree
    while isinstance(first, exp.SetOperation):
        first = first.left
    if isinstance(first, exp.Select):
        named = [
            e if isinstance(e, (exp.Alias, exp.Column, exp.Star)) else exp.alias_(e, f"_col{i}")
            for i, e in enumerate(first.expressions)
        ]
        first.set("expressions", named)
    return tree


READ_ONLY = {"SELECT", "EXPLAIN", "SHOW_TABLES", "SHOW_PARTITIONS", "SHOW_CREATE_TABLE",
             "SHOW_DATABASES", "SHOW_COLUMNS", "DESCRIBE_TABLE"}  # fmt: skip


def athena_query(
    settings: Settings, sql: str, *, write: bool = False, limit: int | None = None
) -> QueryResult:
    """Run one Athena statement synchronously over the catalog (``trafficlake query --dialect
    athena``); the context database is the catalog's. Only reads unless ``write``; a write's
    result is its row count (``rows``), as Athena reports it."""
    from trafficlake.catalog import open_catalog

    kind, sub = statement_kind(sql)
    if not write and sub not in READ_ONLY:
        if kind == "DML":  # an unparseable statement is a syntax error, not a refused write
            parse_one(sql)
        raise ReadOnlyQueryError(
            f"{sub} statements are not allowed in a read-only query (only SELECT, SHOW and "
            "DESCRIBE); allow writes with --write"
        )
    with open_catalog(settings) as cat:
        session = AthenaSession(
            settings, cat, Lake.from_settings(settings), database=settings.catalog.database,
            query_id=str(uuid.uuid4()),
        )  # fmt: skip
        try:
            result = session.execute(sql)
        finally:
            session.close()
    if result.update_count is not None:
        return QueryResult(pa.table({"rows": pa.array([result.update_count], pa.int64())}))
    table = result.table if result.table is not None else pa.table({})
    total = table.num_rows
    if limit is not None:
        table = table.slice(0, limit)
    return QueryResult(table, files_read=[], total_rows=total)
