"""Athena SQL (Trino/Presto as Athena engine v3 runs it) -> DuckDB SQL with Athena's semantics.

sqlglot parses the Trino dialect and writes DuckDB; the rewrites it lacks are here:

- Integer division truncates (``7 / 2 = 3``, ``-7 / 2 = -3``) and keeps the operands' integer
  type: every connection that runs translated SQL is prepared with :func:`prepare_duckdb`, which
  sets DuckDB's ``integer_division`` (``/`` between integers is Presto's division).
- Division and modulo by zero fail with ``DIVIDE_BY_ZERO`` for exact types (DuckDB gives NULL):
  ``a / b`` becomes the macro ``athena_divide(a, b)``. Floating-point division by zero gives
  NULL (Athena: Infinity/NaN; DuckDB's integer-division mode has no IEEE division - a kept
  difference). Inside ``TRY`` the plain operator is kept (NULL, as TRY gives).
- ``TRY(expr)``: DuckDB's ``TRY``; DuckDB refuses aggregates inside it, so a TRY around an
  aggregate expression becomes the same expression with every ``CAST`` made a ``TRY_CAST``
  (the errors TRY exists for around aggregates: ``TRY(CAST(SUM(x) AS INTEGER))``).
- The session time zone is UTC, as Athena's: ``from_unixtime``, ``year()``, ``hour()`` ... agree.
- ``CAST(double AS integer)`` rounds halves away from zero (DuckDB rounds them to even).
- ``from_unixtime(x, zone)`` is the wall time in ``zone`` (sqlglot drops the zone),
  ``format()`` is ``printf`` (Java's format strings), ``map_agg`` builds a MAP.
- Table names: ``awsdatacatalog.db.t``, ``"db"."t"`` and ``t`` (the context database) all name
  the catalog table ``db.t``; a missing table is ``TABLE_NOT_FOUND`` with its position.

Anything sqlglot cannot write for DuckDB is a ``NOT_SUPPORTED`` error naming the construct.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, UnsupportedError
from sqlglot.tokens import TokenType

from trafficlake.athena.errors import AthenaQueryError, not_supported, position, syntax_error
from trafficlake.errors import first_line

READ_DIALECT = "trino"
CATALOG_NAME = "awsdatacatalog"
SESSION_SETTINGS = ("TimeZone = 'UTC'", "integer_division = true")
MACROS = (
    # exact types: division/modulo by zero is an error (Trino); floating point: NULL
    "CREATE OR REPLACE MACRO athena_divide(a, b) AS CASE WHEN b = 0 AND typeof(a / b) NOT IN "
    "('DOUBLE', 'FLOAT') THEN error('DIVIDE_BY_ZERO: Division by zero') ELSE a / b END",
    "CREATE OR REPLACE MACRO athena_mod(a, b) AS CASE WHEN b = 0 AND typeof(a % b) NOT IN "
    "('DOUBLE', 'FLOAT') THEN error('DIVIDE_BY_ZERO: Division by zero') ELSE a % b END",
)


def prepare_duckdb(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Give a DuckDB connection Athena's session: UTC, Presto division, the helper macros."""
    for setting in SESSION_SETTINGS:
        con.execute(f"SET {setting}")
    for macro in MACROS:
        con.execute(macro)
    return con


STATEMENT_STARTS = (
    "'ALTER', 'CREATE', 'DELETE', 'DESCRIBE', 'DROP', 'EXPLAIN', 'INSERT', "
    "'MSCK', 'SHOW', 'UPDATE', 'WITH', <query>"
)
"""What a statement can start with, as Athena's syntax error lists it (the statements it runs)."""


def parse_one(sql: str, *, dialect: str = READ_DIALECT) -> exp.Expression:
    """Parse exactly one statement; syntax errors as Athena reports them."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        where = f"line {err.get('line', 1)}:{err.get('col', 1)}: " if err else ""
        token = err.get("highlight") or ""
        detail = f"mismatched input '{token}'" if token else "invalid statement"
        raise syntax_error(f"{where}{detail}. {err.get('description', '')}".strip()) from None
    except SqlglotError as exc:
        raise syntax_error(first_line(exc)) from None
    if len(statements) != 1:
        raise AthenaQueryError(
            "INVALID_REQUEST",
            "Only one sql statement is allowed." if statements else "Query is empty",
        )
    statement: exp.Expression = statements[0]  # type: ignore[assignment]
    if isinstance(statement, (exp.Condition, exp.Alias)):  # a bare expression: "SELEC", "foo bar"
        text = sql.lstrip()
        skipped = sql[: len(sql) - len(text)]
        line, col = skipped.count("\n") + 1, len(skipped.rpartition("\n")[2]) + 1
        raise syntax_error(
            f"line {line}:{col}: mismatched input '{text.split(None, 1)[0]}'. Expecting: "
            f"{STATEMENT_STARTS}"
        )
    return statement


def bind_parameters(sql: str, values: Sequence[str]) -> str:
    """Athena's ExecutionParameters: each ``?`` placeholder, in order, becomes the given value
    (SQL text: ``'abc'``, ``42``). A count that does not match is an error."""
    try:
        tokens = Dialect.get_or_raise(READ_DIALECT).tokenize(sql)
    except SqlglotError as exc:
        raise syntax_error(str(exc).splitlines()[0]) from None
    spots = [t for t in tokens if t.token_type == TokenType.PLACEHOLDER and t.text == "?"]
    if len(spots) != len(values):
        raise AthenaQueryError(
            "INVALID_PARAMETER_USAGE",
            f"Incorrect number of parameters: expected {len(spots)} but found {len(values)}",
        )
    for token, value in reversed(list(zip(spots, values, strict=True))):
        sql = sql[: token.start] + str(value) + sql[token.end + 1 :]
    return sql


def _start(node: exp.Expression) -> int:
    for ident in [node.args.get(k) for k in ("catalog", "db", "this")]:
        if isinstance(ident, exp.Identifier) and "start" in ident.meta:
            return int(ident.meta["start"])
    return 0


def resolve_table(
    node: exp.Table, *, database: str, tables: Collection[tuple[str, str]], sql: str
) -> tuple[str, str]:
    """``(db, table)`` of a table reference (lower case, as Athena's catalog); raises
    TABLE_NOT_FOUND / CATALOG_NOT_FOUND with the reference's position."""
    catalog = node.catalog.lower()
    if catalog and catalog != CATALOG_NAME:
        raise AthenaQueryError(
            "CATALOG_NOT_FOUND", f"{position(sql, _start(node))}: Catalog '{catalog}' not found"
        )
    key = ((node.db or database).lower(), node.name.lower())
    if key not in tables:
        raise AthenaQueryError(
            "TABLE_NOT_FOUND",
            f"{position(sql, _start(node))}: Table '{CATALOG_NAME}.{key[0]}.{key[1]}' does not exist",
        )
    return key


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def _inside_try(node: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.Try):
            return True
        parent = parent.parent
    return False


def _rewrite_try(node: exp.Expression) -> exp.Expression:
    if not isinstance(node, exp.Try):
        return node
    inner = node.this
    if not any(inner.find_all(exp.AggFunc, exp.Window)):
        return node
    return inner.transform(
        lambda n: exp.TryCast(this=n.this, to=n.args["to"]) if type(n) is exp.Cast else n
    )


def _rewrite_functions(node: exp.Expression) -> exp.Expression:
    """Trino functions sqlglot writes wrongly or not at all for DuckDB."""
    if isinstance(node, exp.UnixToTime) and node.args.get("zone") is not None:
        # from_unixtime(x, zone): the wall time in that zone (sqlglot drops the zone)
        zone = node.args["zone"]
        plain = exp.UnixToTime(this=node.this)
        return exp.Anonymous(this="timezone", expressions=[zone, plain])
    if isinstance(node, exp.Format):  # Java's String.format: DuckDB's printf, not its format
        return exp.Anonymous(this="printf", expressions=[node.this, *node.expressions])
    if isinstance(node, exp.Anonymous) and node.name.lower() == "map_agg":
        key, value = [*node.expressions, None, None][:2]
        if key is not None and value is not None:
            pair = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier("k"), expression=key),
                                           exp.PropertyEQ(this=exp.to_identifier("v"), expression=value)])  # fmt: skip
            entries = exp.Anonymous(this="list", expressions=[pair])
            return exp.Anonymous(this="map_from_entries", expressions=[entries])
    return node


_INTEGRAL = (exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT,
             exp.DataType.Type.BIGINT)  # fmt: skip


def _rewrite_casts(node: exp.Expression) -> exp.Expression:
    """``CAST(double AS integer)`` rounds halves away from zero in Trino, to even in DuckDB: a
    floating-point operand is rounded first (decided by its type, which DuckDB folds)."""
    if type(node) is not exp.Cast or not node.to.is_type(*_INTEGRAL):
        return node
    value, to = node.this, node.to
    floating = exp.In(
        this=exp.Anonymous(this="typeof", expressions=[value.copy()]),
        expressions=[exp.Literal.string("DOUBLE"), exp.Literal.string("FLOAT")],
    )
    as_double = exp.TryCast(this=value.copy(), to=exp.DataType.build("DOUBLE"))
    rounded = exp.Cast(this=exp.Anonymous(this="round", expressions=[as_double]), to=to.copy())
    plain = exp.Cast(this=value, to=to)
    return exp.Case(ifs=[exp.If(this=floating, true=rounded)], default=plain)


def _rewrite_arithmetic(node: exp.Expression) -> exp.Expression:
    if isinstance(node, (exp.Div, exp.Mod)) and not _inside_try(node):
        name = "athena_divide" if isinstance(node, exp.Div) else "athena_mod"
        return exp.Anonymous(this=name, expressions=[node.left, node.right])
    return node


def translate(
    tree: exp.Expression,
    *,
    sql: str = "",
    database: str | None = None,
    tables: Collection[tuple[str, str]] | None = None,
    copy: bool = True,
) -> exp.Expression:
    """The rewritten tree of a parsed Athena query (SELECT/WITH/VALUES), ready to be written as
    DuckDB SQL. With ``tables`` (the catalog's ``(db, table)`` keys), every table reference is
    resolved against them (``database``: the context database for unqualified names); ``sql``
    is the original text, for positions. ``copy=False`` rewrites ``tree`` itself."""
    if copy:
        tree = tree.copy()
    if tables is not None:
        ctes = _cte_names(tree)
        for node in list(tree.find_all(exp.Table)):
            if not node.name or (not node.db and node.name.lower() in ctes):
                continue
            db, name = resolve_table(node, database=database or "", tables=tables, sql=sql)
            node.set("catalog", None)
            node.set("db", exp.to_identifier(db, quoted=True))
            node.set("this", exp.to_identifier(name, quoted=True))
    tree = tree.transform(_rewrite_try, copy=False)
    tree = tree.transform(_rewrite_functions, copy=False)
    tree = tree.transform(_rewrite_casts, copy=False)
    return tree.transform(_rewrite_arithmetic, copy=False)


def duckdb_sql(tree: exp.Expression) -> str:
    """DuckDB SQL of a translated tree; NOT_SUPPORTED names what sqlglot cannot write."""
    try:
        return tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise not_supported(first_line(exc)) from None


def to_duckdb(
    tree: exp.Expression,
    *,
    sql: str = "",
    database: str | None = None,
    tables: Collection[tuple[str, str]] | None = None,
) -> str:
    """DuckDB SQL of a parsed Athena query (:func:`translate`, then :func:`duckdb_sql`)."""
    return duckdb_sql(translate(tree, sql=sql, database=database, tables=tables))
