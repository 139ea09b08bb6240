"""SQL quoting: the one owner of how a name or a text value is written into SQL text.

Identifiers in double quotes and text literals in single quotes, each with the quote doubled -
the SQL standard, as DuckDB, Spark SQL (through sqlglot) and PostgreSQL read it. Values from a
user go to SQL as parameters where the engine takes them; these are for the places that cannot
(view definitions, file lists, DuckDB secrets).
"""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
