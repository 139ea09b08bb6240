"""``trafficlake query -f csv``: a SELECT's whole result written by DuckDB's own CSV writer
(``COPY ... TO``), streamed to a file, never held in Python.

Converting every row to Python values and formatting them with :mod:`csv` took 9.1 s and
542 MB of memory for the demo's 536,793 transformed rows; DuckDB writes the same bytes in
2.5 s and 152 MB (docs/benchmarks.md, "Exporting a query's result").

Only results whose every column prints the same either way take this path: integers, DOUBLE
and DATE (DuckDB and Python both print a DOUBLE as its shortest round-trip text). DuckDB
prints other types its own way (``true`` for True, ``""`` for an empty string to tell it from
NULL, ``.123`` for ``.123000``, ``3 days`` for an interval), so those results, statements
DuckDB cannot nest in ``COPY (...)`` (``SHOW``, ``DESCRIBE``, ``PRAGMA``) and anything that is
not exactly one SELECT return ``None``: the caller formats them in Python, as before.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import duckdb

from trafficlake.query import CatalogConnection, QueryError, duckdb_reason
from trafficlake.sqlquote import quote_literal

SAME_TEXT_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
    | {"DOUBLE", "DATE"}
)
"""DuckDB types whose values DuckDB's CSV writer prints as Python's :mod:`csv` prints them."""


def single_select(sql: str) -> str | None:
    """The text of ``sql``'s one statement when it is a SELECT (trailing ``;`` removed), else
    None (several statements, another kind, or SQL DuckDB cannot parse: the caller's own path
    reports those)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        return None
    if len(statements) != 1 or statements[0].type.name != "SELECT":
        return None
    return statements[0].query.rstrip().rstrip(";")


def export_csv(
    con: CatalogConnection, sql: str, target: Path, *, limit: int | None = None
) -> int | None:
    """Write the result of ``sql`` (its first ``limit`` rows when set), run on ``con``, to
    ``target`` as CSV; returns the number of rows written, or None when ``sql`` is not a single
    SELECT whose columns all print alike (nothing is written then: the caller formats the
    result in Python, on the same connection). ``target`` appears only when the statement
    succeeded: the rows go to a temporary folder beside it, renamed at the end."""
    text = single_select(sql)
    if text is None:
        return None
    # newlines around the text: a trailing "-- comment" must not swallow the closing parenthesis
    select = (
        f"(\n{text}\n)" if limit is None else f"(SELECT * FROM (\n{text}\n) LIMIT {int(limit)})"
    )
    con.prepare(sql)
    try:
        if not all(str(t) in SAME_TEXT_TYPES for t in con.duckdb.sql(select).types):  # binds only
            return None
    except duckdb.ParserException:
        return None  # e.g. SHOW TABLES: a SELECT to DuckDB, not nestable in COPY
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {duckdb_reason(exc)}") from None
    # a private folder beside the target: DuckDB writes through its own "tmp_" file, which a
    # failed COPY leaves behind; the folder goes, whatever happened
    folder = tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        written = os.path.join(folder, target.name)
        try:
            copied = con.duckdb.execute(
                f"COPY {select} TO {quote_literal(written)} (FORMAT csv, HEADER true)"
            ).fetchone()
        except duckdb.Error as exc:
            raise QueryError(f"query failed: {duckdb_reason(exc)}") from None
        os.replace(written, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return int(copied[0]) if copied else 0
