"""SQL over the catalog with DuckDB: every catalog table is a view ``<database>.<table>``.

Before each statement the views of the tables it references are rebuilt over exactly the
partitions its partition-key predicates allow (see :mod:`trafficlake.query_pruning`); the
partitions come from the catalog, the lake is never listed. ``files_read`` tells which files
those views were built on. Read-only by default: only SELECT-like statements run.

Results come as Arrow tables (:meth:`CatalogConnection.query`) or as Python values
(:meth:`CatalogConnection.query_rows`, what the command line prints: the same values, read
without pyarrow when the column types allow).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import duckdb

from trafficlake.catalog import Catalog, CatalogError, Partition, Table, open_catalog
from trafficlake.catalog.names import (
    LOCATIONS_KEY,
    LOCATIONS_PREFIX,
    TableRef,
    locations_table,
    referenced_table,
)
from trafficlake.config import Settings
from trafficlake.errors import TrafficlakeError, first_line
from trafficlake.sqlquote import quote_ident, quote_literal
from trafficlake.storage import FileEntry, Lake

# query_pruning (sqlglot) is imported only for SQL that names a catalog table and has a WHERE,
# or that DuckDB's parser does not serialize (see CatalogConnection.prepare)
if TYPE_CHECKING:
    import pyarrow as pa
    from duckdb.sqltypes import DuckDBPyType
    from sqlglot import exp

    from trafficlake.query_pruning import KeyPredicate, TableKey

READ_STATEMENTS = {"SELECT"}


@functools.cache
def _reading_pragmas() -> frozenset[str]:
    """The PRAGMAs that only read: those DuckDB runs as a table function ``pragma_<name>``
    (``version``, ``table_info``, ...) and the ``show*`` ones it rewrites into a SELECT.
    DuckDB 1.5 reports such a statement as a SELECT itself; DuckDB 2 reports every PRAGMA as
    PRAGMA, so the read-only check tells them apart by name."""
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() WHERE "
            "(function_type = 'table' AND starts_with(function_name, 'pragma_')) "
            "OR (function_type = 'pragma' AND starts_with(function_name, 'show'))"
        ).fetchall()
    return frozenset(str(name).removeprefix("pragma_") for (name,) in rows)


def _pragma_reads(statement: str) -> bool:
    """``PRAGMA name`` or ``PRAGMA name(args)`` naming a reading pragma (never ``PRAGMA x = v``,
    which DuckDB reports as SET)."""
    m = re.match(r"\s*PRAGMA\s+(\w+)\s*(\(|;|$)", statement, re.IGNORECASE)
    return m is not None and m.group(1).lower() in _reading_pragmas()


_DUCK_TYPES = {
    "tinyint": "TINYINT", "smallint": "SMALLINT", "int": "INTEGER", "integer": "INTEGER",
    "bigint": "BIGINT", "float": "FLOAT", "double": "DOUBLE", "boolean": "BOOLEAN",
    "string": "VARCHAR", "binary": "BLOB", "date": "DATE", "timestamp": "TIMESTAMP",
    "void": "INTEGER",
}  # fmt: skip


class QueryError(TrafficlakeError):
    """A query that cannot run (bad SQL, a write in read-only mode, a missing file)."""


class ReadOnlyQueryError(QueryError):
    pass


class LakeFilesMissingError(TrafficlakeError):
    """A file the catalog lists is gone from the lake (the state is wrong, not the query)."""


@dataclass
class QueryResult:
    table: pa.Table
    files_read: list[str] = field(default_factory=list)
    """Lake URIs of the files the queried views were built on."""
    total_rows: int | None = None
    """Rows the statement produced (``table`` holds only the first ``limit`` when one was set)."""

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        cols = [
            python_values(name, c) for name, c in zip(self.columns, self.table.columns, strict=True)
        ]
        return list(zip(*cols, strict=True)) if cols else []


@dataclass
class QueryRows:
    """A result as Python values, the values :attr:`QueryResult.rows` gives."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    files_read: list[str] = field(default_factory=list)
    total_rows: int | None = None


PLAIN_TYPES = frozenset(
    {"boolean", "tinyint", "smallint", "integer", "bigint", "utinyint", "usmallint",
     "uinteger", "ubigint", "float", "double", "decimal", "varchar", "blob", "enum"}
)  # fmt: skip
"""DuckDB types whose values DuckDB's own Python conversion gives as Arrow's ``to_pylist``
does (tests/query checks each). Not HUGEINT (int, Arrow a Decimal), INTERVAL, MAP, UUID, ARRAY,
BIT, the time zone types, nor DATE, TIME and TIMESTAMP (their infinities: DuckDB gives the
largest date, Arrow none)."""


def plain_type(duck: DuckDBPyType) -> bool:
    """Whether values of ``duck`` (lists and structs of them too) are in :data:`PLAIN_TYPES`."""
    if duck.id in ("list", "struct"):  # children: (name, type) pairs
        return all(plain_type(cast("DuckDBPyType", child)) for _, child in duck.children)
    return duck.id in PLAIN_TYPES


def python_values(name: str, column: pa.ChunkedArray) -> list[Any]:
    """A result column as Python values; nanosecond timestamps with a sub-microsecond part
    (which ``datetime`` cannot hold) as their text, never a traceback."""
    import pyarrow as pa

    try:
        return column.to_pylist()
    except ValueError:
        if pa.types.is_timestamp(column.type):
            return column.cast(pa.string()).to_pylist()
        raise QueryError(
            f"column {name}: {column.type} values cannot be shown (cast them to VARCHAR)"
        ) from None


def duck_type(hive: str) -> str:
    if hive.startswith("decimal("):
        return hive.upper()
    if hive.startswith("array<") and hive.endswith(">"):
        return duck_type(hive[6:-1]) + "[]"
    return _DUCK_TYPES.get(hive, "VARCHAR")


def duckdb_reason(exc: BaseException) -> str:
    """DuckDB's message on one line, keeping its hint ("Did you mean ...", "Candidate
    bindings") and dropping the echoed SQL with its caret."""
    paragraph = str(exc).strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines() if line.strip()) or (
        type(exc).__name__
    )


def file_uris(lake: Lake, keys: Sequence[str]) -> list[str]:
    """The URIs DuckDB reads ``keys`` at: absolute paths on a local lake, ``s3://`` URLs on an
    S3 lake (:meth:`trafficlake.storage.Lake.uri` decides)."""
    return [lake.uri(k) for k in keys]


def check_read_only(sql: str) -> None:
    """Raise ReadOnlyQueryError unless every statement only reads."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"invalid SQL: {duckdb_reason(exc)}") from None
    for st in statements:
        kind = st.type.name
        if kind == "EXPLAIN":
            inner = st.query.strip()
            words = inner.split(None, 2)
            rest = (
                words[2]
                if len(words) > 2 and words[1].upper() == "ANALYZE"
                else inner.split(None, 1)[-1]
            )
            check_read_only(rest)
            continue
        if kind not in READ_STATEMENTS and not (kind == "PRAGMA" and _pragma_reads(st.query)):
            raise ReadOnlyQueryError(
                f"{kind} statements are not allowed in a read-only query (only SELECT, WITH, "
                "EXPLAIN, DESCRIBE, SHOW, SUMMARIZE and PRAGMA reads); allow writes with --write (read_only=False)"
            )


class CatalogConnection:
    """A DuckDB connection whose catalog-table views follow each statement's partition filters."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        lake: Lake,
        *,
        read_only: bool,
        own_catalog: bool,
    ) -> None:
        self.settings, self.catalog, self.lake = settings, catalog, lake
        self.read_only = read_only
        self._own_catalog = own_catalog
        self.duckdb = duckdb.connect(":memory:")
        if not lake.is_local:
            from trafficlake.s3 import configure_duckdb

            configure_duckdb(self.duckdb, settings)
        self.tables: dict[TableKey, Table] = {}
        self._views: dict[TableKey, tuple[str, ...] | None] = {}
        self.files_read: list[str] = []
        self.bytes_read = 0
        """Total size of the files of the tables the last statement references."""
        self.duckdb.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(settings.catalog.database)}")
        # The catalog's database is the default schema: SHOW TABLES lists its tables, and
        # unqualified names (``transformed``) resolve there.
        self.duckdb.execute(f"USE memory.{quote_ident(settings.catalog.database)}")
        self.refresh_tables()
        self._lake_views = self._lake_view_sources()
        loc = locations_table(settings)
        if self._lake_views[0] is not None and loc not in self.tables:
            uri = file_uris(lake, [LOCATIONS_KEY])[0]
            self.duckdb.execute(
                f"CREATE VIEW {loc.sql} AS SELECT * FROM read_parquet({quote_literal(uri)})"
            )
        self._create_sections_view(loc)

    def _lake_view_sources(self) -> tuple[FileEntry | None, bool, bool]:
        """What the views of lake files were made from: the locations file (None: the lake has
        none), whether the catalog has the locations table, whether it has the sections table."""
        from trafficlake.roads.sections import sections_table

        files = self.lake.list(LOCATIONS_PREFIX, recursive=False)
        return (
            next((f for f in files if f.key == LOCATIONS_KEY), None),
            locations_table(self.settings) in self.tables,
            sections_table(self.settings) in self.tables,
        )

    def current(self) -> bool:
        """Whether this connection answers the next statement as a new one would, for a caller
        that keeps it (the web server): the catalog's tables followed (as before every
        statement), and the locations and sections views made from the same files and tables
        as a new connection would make them from. False: close it and connect again."""
        self.refresh_tables()
        return self._lake_view_sources() == self._lake_views

    def _create_sections_view(self, locations: TableRef) -> None:
        """The road sections of the locations table (:mod:`trafficlake.roads.sections`), when
        it has the columns they are made of."""
        from trafficlake.roads.sections import SECTION_INPUTS, sections_sql, sections_table

        sections = sections_table(self.settings)
        # the locations view is the catalog's table or the one made from the lake's file
        # (known here; asking DuckDB with has_view costs a new connection ~3 ms)
        has_locations = locations in self.tables or self._lake_views[0] is not None
        if sections in self.tables or not has_locations:
            return
        # its result's columns: information_schema.columns would bind every view of a new
        # database first (~20 ms)
        cur = self.duckdb.execute(f"SELECT * FROM {locations.sql} LIMIT 0")
        columns = {d[0] for d in cur.description or []}
        if columns >= SECTION_INPUTS:
            self.duckdb.execute(f"CREATE VIEW {sections.sql} AS {sections_sql(locations.sql)}")

    def refresh_tables(self) -> None:
        """Follow the catalog's tables: new ones get a view, changed schemas a rebuilt one."""
        current = {(t.database, t.name): t for t in self.catalog.list_tables()}
        for key, table in current.items():
            if key not in self.tables:
                self.duckdb.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(key[0])}")
            elif self.tables[key] == table:
                continue
            self._views.pop(key, None)
            self.tables[key] = table
            self._create_view(key, table, None)
        for key in set(self.tables) - set(current):  # dropped from the catalog
            del self.tables[key]
            self._views.pop(key, None)
            self.duckdb.execute(f"DROP VIEW IF EXISTS {quote_ident(key[0])}.{quote_ident(key[1])}")

    # ---- views ----------------------------------------------------------------------------
    def _create_view(self, key: TableKey, table: Table, parts: list[Partition] | None) -> None:
        """(Re)build the view over ``parts`` (None: an empty view with the catalog's columns)."""
        uris = tuple(file_uris(self.lake, [f.key for p in parts for f in p.files])) if parts else ()
        state = uris if parts is not None else None
        if key in self._views and self._views[key] == state:
            return
        name = f"{quote_ident(table.database)}.{quote_ident(table.name)}"
        try:
            self.duckdb.execute(
                f"CREATE OR REPLACE VIEW {name} AS {self._view_sql(table, parts or [])}"
            )
        except duckdb.IOException as exc:  # DuckDB binds the files when the view is made
            raise LakeFilesMissingError(
                f"{table.full_name}: the catalog lists files the lake cannot give "
                f"({first_line(exc)}); crawl the table again to bring the catalog up to date"
            ) from None
        self._views[key] = state

    def _reader(self, table: Table, uris: Sequence[str], hive: bool) -> str:
        files = "[" + ", ".join(quote_literal(u) for u in uris) + "]"
        opts = "union_by_name = true"
        if hive and table.partition_keys:
            types = ", ".join(
                f"{quote_literal(k.name)}: {duck_type(k.type)}" for k in table.partition_keys
            )
            opts += f", hive_partitioning = true, hive_types = {{{types}}}"
        else:
            opts += ", hive_partitioning = false"
        if table.format == "json":
            return f"read_json({files}, format = 'newline_delimited', {opts})"
        return f"read_parquet({files}, {opts})"

    def _view_sql(self, table: Table, parts: list[Partition]) -> str:
        cols = [*table.columns, *table.partition_keys]
        if not any(p.files for p in parts):
            body = ", ".join(
                f"CAST(NULL AS {duck_type(c.type)}) AS {quote_ident(c.name)}" for c in cols
            )
            return f"SELECT {body} WHERE false"
        names = ", ".join(quote_ident(c.name) for c in cols)
        if not any(k.name.startswith("partition_") for k in table.partition_keys):
            uris = file_uris(self.lake, [f.key for p in parts for f in p.files])
            return f"SELECT {names} FROM {self._reader(table, uris, True)}"
        # folders that are not key=value: add the partition values as constants per partition
        selects = []
        for p in parts:
            if not p.files:
                continue
            consts = ", ".join(
                f"CAST({quote_literal(v)} AS {duck_type(k.type)}) AS {quote_ident(k.name)}"
                for k, v in zip(table.partition_keys, p.values, strict=True)
            )
            data = ", ".join(quote_ident(c.name) for c in table.columns)
            reader = self._reader(table, file_uris(self.lake, [f.key for f in p.files]), False)
            selects.append(f"SELECT {data}{', ' if consts else ''}{consts} FROM {reader}")
        return " UNION ALL BY NAME ".join(selects)

    def _partitions(
        self, key: TableKey, references: list[list[KeyPredicate]] | None
    ) -> list[Partition]:
        db, name = key
        table = self.tables[key]
        if references is None or any(not preds for preds in references):
            return self.catalog.list_partitions(db, name)
        chosen: dict[tuple[str, ...], Partition] = {}
        for preds in references:
            from trafficlake.query_pruning import equality_filter, matches

            for p in self.catalog.list_partitions(db, name, where=equality_filter(table, preds)):
                if matches(p, table, preds):
                    chosen[p.values] = p
        return [chosen[v] for v in sorted(chosen, key=lambda v: [(len(x), x) for x in v])]

    def prepare(
        self,
        sql: str,
        *,
        statements: Sequence[exp.Expression] | None = None,
        only_referenced: bool = False,
        refresh: bool = True,
    ) -> list[str]:
        """Point the views of the tables ``sql`` reads at the partitions it needs.
        ``statements``: ``sql`` already parsed; ``only_referenced``: leave the views of other
        tables as they are (a caller that runs no user views, like the Athena engine);
        ``refresh=False``: the caller has just followed the catalog's tables itself."""
        if self.read_only:
            check_read_only(sql)
        if refresh:
            self.refresh_tables()
        lowered = sql.lower()
        selection: dict[TableKey, list[list[KeyPredicate]]] | None
        if statements is None and not any(name.lower() in lowered for _, name in self.tables):
            selection = {}  # reads no table
        elif (
            statements is None
            and "where" not in lowered
            and ((whole := self._tables_read_whole(sql)) is not None)
        ):
            selection = whole  # nothing to prune on: no need for sqlglot (~0.1 s to import)
        else:
            from trafficlake.query_pruning import select_partitions_for

            selection = select_partitions_for(
                sql, self.tables, self.settings.catalog.database, statements=statements
            )
        wanted: dict[TableKey, list[list[KeyPredicate]] | None]
        if selection is None:
            wanted = dict.fromkeys(self.tables)
        else:
            wanted = dict(selection)
            if not self.read_only and not only_referenced:  # user views may read any table
                wanted.update({k: None for k in self.tables if k not in wanted})
        files: set[str] = set()
        sizes: dict[str, int] = {}
        for key, refs in wanted.items():
            parts = self._partitions(key, refs)
            self._create_view(key, self.tables[key], parts)
            files.update(file_uris(self.lake, [f.key for p in parts for f in p.files]))
            if selection is None or key in selection:
                sizes.update({f.key: f.size for p in parts for f in p.files})
        self.files_read = sorted(files)
        self.bytes_read = sum(sizes.values())
        return self.files_read

    def _tables_read_whole(self, sql: str) -> dict[TableKey, list[list[KeyPredicate]]] | None:
        """The catalog tables SELECTs without a ``WHERE`` read (each in full), found by DuckDB's
        own parser with the rule :func:`~trafficlake.query_pruning.select_partitions_for`
        applies (an unqualified name that is a ``WITH`` name of its statement is not a table);
        None for statements DuckDB does not serialize (anything but a SELECT) and for
        DESCRIBE, SHOW and SUMMARIZE (sqlglot decides those, as for every other SQL)."""
        try:
            row = self.duckdb.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
        except duckdb.Error:
            return None
        tree: dict[str, Any] = json.loads(row[0]) if row else {}
        if not tree or tree.get("error"):
            return None
        default = self.settings.catalog.database
        out: dict[TableKey, list[list[KeyPredicate]]] = {}
        for statement in tree["statements"]:
            ctes: set[str] = set()
            refs: list[tuple[str, str]] = []
            stack: list[Any] = [statement]
            while stack:
                node = stack.pop()
                if isinstance(node, list):
                    stack.extend(node)
                    continue
                if not isinstance(node, dict):
                    continue
                if node.get("type") == "SHOW_REF":
                    return None
                if node.get("type") == "BASE_TABLE":
                    refs.append((node["schema_name"], node["table_name"]))
                if isinstance(node.get("cte_map"), dict):
                    ctes.update(e["key"].lower() for e in node["cte_map"].get("map", []))
                stack.extend(node.values())
            for db, name in refs:
                if not db and name.lower() in ctes:
                    continue
                key = referenced_table(self.tables, db or default, name)
                if key is not None:
                    out[key] = [[]]
        return out

    def has_view(self, ref: TableRef) -> bool:
        """Whether ``ref`` can be queried on this connection (a catalog table or a lake view)."""
        row = self.duckdb.execute(  # information_schema.tables costs a new database ~8 ms
            "SELECT count(*) FROM (SELECT schema_name, view_name AS name FROM duckdb_views() "
            "UNION ALL SELECT schema_name, table_name FROM duckdb_tables()) "
            "WHERE schema_name = ? AND name = ?",
            [ref.database, ref.name],
        ).fetchone()
        return bool(row and row[0])

    # ---- running --------------------------------------------------------------------------
    def execute(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> duckdb.DuckDBPyConnection:
        """Prepare the views for ``sql`` and run it; returns DuckDB's result cursor."""
        self.prepare(sql)
        return self._execute(sql, params)

    def _execute(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None
    ) -> duckdb.DuckDBPyConnection:
        try:
            cur = self.duckdb.execute(sql, params)
        except duckdb.Error as exc:
            raise QueryError(f"query failed: {duckdb_reason(exc)}") from None
        if cur is None:  # DuckDB's answer to SQL that is only blanks, ';' or comments
            raise QueryError("no SQL statement to run (only blanks, ';' or comments)")
        return cur

    def query(
        self,
        sql: str,
        params: Sequence[Any] | dict[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> QueryResult:
        """Run ``sql``; with ``limit`` keep only its first rows (``total_rows`` counts all)."""
        return self._arrow(self.execute(sql, params), limit)

    def query_rows(
        self,
        sql: str,
        params: Sequence[Any] | dict[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> QueryRows:
        """:meth:`query` as Python values. When every column is of a :func:`plain_type`, a
        read-only connection has DuckDB give them itself: no pyarrow (nor numpy) imported, a
        short query's start-up. With ``limit``, the statement runs with ``LIMIT limit + 1``
        (DuckDB stops early, or keeps the top rows of a sort); only when that finds more rows
        than shown does it run again to count them all (DuckDB reads only what a count needs:
        no values exported, no sort) - a statement with a random row count (a percentage
        sample) may then count another draw than the one shown. Otherwise through Arrow."""
        self.prepare(sql)
        relation = None
        if self.read_only:
            try:  # a relation binds the statement; it runs when fetched
                relation = self.duckdb.sql(sql, params=params)
            except duckdb.Error as exc:
                raise QueryError(f"query failed: {duckdb_reason(exc)}") from None
        if (
            relation is None
            or not relation.columns
            or not all(plain_type(t) for t in relation.types)
        ):
            result = self._arrow(self._execute(sql, params), limit)
            return QueryRows(result.columns, result.rows, result.files_read, result.total_rows)
        try:
            if limit is None:
                rows = relation.fetchall()
                total = len(rows)
            else:
                rows = relation.limit(limit + 1).fetchall()
                total = len(rows)
                if total > limit:
                    del rows[limit:]
                    # fetchall: DuckDB 2 relations have no fetchone (they keep no result)
                    total = relation.aggregate("count(*)").fetchall()[0][0]
        except duckdb.Error as exc:
            raise QueryError(f"query failed: {duckdb_reason(exc)}") from None
        return QueryRows(list(relation.columns), rows, list(self.files_read), total)

    def _arrow(self, cur: duckdb.DuckDBPyConnection, limit: int | None) -> QueryResult:
        import pyarrow as pa

        if cur.description is None:
            return QueryResult(pa.table({}), list(self.files_read), 0)
        if limit is not None:
            return self._head(cur, limit)
        table = cur.to_arrow_table() if hasattr(cur, "to_arrow_table") else cur.fetch_arrow_table()
        if isinstance(table, pa.RecordBatchReader):
            table = table.read_all()
        return QueryResult(table, list(self.files_read), table.num_rows)

    def _head(self, cur: duckdb.DuckDBPyConnection, limit: int) -> QueryResult:
        """The first ``limit`` rows as Arrow; the rest only counted, never converted to Python."""
        import pyarrow as pa

        batch_rows = max(limit, 65_536)
        reader = (
            cur.to_arrow_reader(batch_rows)
            if hasattr(cur, "to_arrow_reader")
            else cur.fetch_record_batch(batch_rows)
        )
        kept: list[pa.RecordBatch] = []
        total = 0
        for batch in reader:
            if total < limit:
                kept.append(batch.slice(0, limit - total))
            total += batch.num_rows
        table = pa.Table.from_batches(kept, schema=reader.schema)
        return QueryResult(table, list(self.files_read), total)

    def close(self) -> None:
        self.duckdb.close()
        if self._own_catalog:
            self.catalog.close()

    def __enter__(self) -> CatalogConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    lake: Lake | None = None,
    read_only: bool = True,
) -> CatalogConnection:
    """A DuckDB connection with every catalog table as ``<database>.<table>``."""
    own = catalog is None
    cat = catalog or open_catalog(settings)
    try:
        return CatalogConnection(
            settings,
            cat,
            lake or Lake.from_settings(settings),
            read_only=read_only,
            own_catalog=own,
        )
    except (duckdb.Error, CatalogError) as exc:
        if own:
            cat.close()
        raise QueryError(f"cannot open the catalog for queries: {exc}") from None


def run_query(
    settings: Settings,
    sql: str,
    *,
    params: Sequence[Any] | dict[str, Any] | None = None,
    catalog: Catalog | None = None,
    lake: Lake | None = None,
    read_only: bool = True,
    limit: int | None = None,
) -> QueryResult:
    """Run one SQL text over the catalog and return its result and the files it read
    (its first ``limit`` rows when set, with ``total_rows`` counting all)."""
    with connect(settings, catalog=catalog, lake=lake, read_only=read_only) as con:
        return con.query(sql, params, limit=limit)


def run_query_rows(
    settings: Settings,
    sql: str,
    *,
    catalog: Catalog | None = None,
    lake: Lake | None = None,
    read_only: bool = True,
    limit: int | None = None,
) -> QueryRows:
    """:func:`run_query` with the result as Python values (:meth:`CatalogConnection.query_rows`)."""
    with connect(settings, catalog=catalog, lake=lake, read_only=read_only) as con:
        return con.query_rows(sql, limit=limit)


def format_result(result: QueryResult | QueryRows, fmt: str) -> str:
    """``csv`` or ``json`` (records) text of a result (the CLI renders ``table`` itself)."""
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
        return buf.getvalue()
    if fmt == "json":
        records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        return json.dumps(records, default=str, indent=2) + "\n"
    raise QueryError(f"unknown output format {fmt!r}: use table, csv or json")
