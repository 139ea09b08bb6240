"""``query_rows`` (what ``trafficlake query`` prints): the values, columns and row counts of
``query(...).rows``, whether DuckDB gives the values itself (plain types) or Arrow does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trafficlake.config import Settings
from trafficlake.query import PLAIN_TYPES, CatalogConnection, QueryError, connect, plain_type

PLAIN_SAMPLES = {
    "boolean": "true",
    "tinyint": "(-5)::TINYINT",
    "smallint": "7::SMALLINT",
    "integer": "7",
    "bigint": "(-7)::BIGINT",
    "utinyint": "255::UTINYINT",
    "usmallint": "7::USMALLINT",
    "uinteger": "7::UINTEGER",
    "ubigint": "18446744073709551615::UBIGINT",
    "float": "0.1::FLOAT",
    "double": "'nan'::DOUBLE",
    "decimal": "1.50::DECIMAL(38, 10)",
    "varchar": "'a,b\"c\nd'",
    "blob": "'\\x00\\xFFab'::BLOB",
    "enum": "'x'::ENUM('x', 'y')",
}
"""A value of each plain type: its row must come out as Arrow gives it."""

OTHER_SAMPLES = {
    "hugeint": "170141183460469231731687303715884105727::HUGEINT",
    "interval": "INTERVAL 3 DAY",
    "map": "MAP {'a': 1}",
    "uuid": "'12345678-1234-5678-1234-567812345678'::UUID",
    "timestamp with time zone": "TIMESTAMPTZ '2026-01-02 03:04:05+00'",
    "timestamp": "TIMESTAMP '2026-01-02 03:04:05.123456'",
    "timestamp_ns": "TIMESTAMP_NS '2026-01-01 00:00:00.123456789'",
    "date": "DATE '2026-01-02'",
    "array": "[1, 2]::INTEGER[2]",
}
"""Values of types DuckDB gives Python otherwise than Arrow: read through Arrow."""


@pytest.fixture
def con(settings: Settings) -> Iterator[CatalogConnection]:
    with connect(settings) as c:
        yield c


def _same(con: CatalogConnection, sql: str, limit: int | None) -> list[tuple[object, ...]]:
    arrow = con.query(sql, limit=limit)
    try:
        arrow.rows  # noqa: B018
    except QueryError as exc:  # values Python cannot hold (nested nanoseconds): the same error
        with pytest.raises(QueryError) as raised:
            con.query_rows(sql, limit=limit)
        assert str(raised.value) == str(exc)
        return []
    rows = con.query_rows(sql, limit=limit)
    assert rows.columns == arrow.columns
    assert repr(rows.rows) == repr(arrow.rows)  # the same values of the same types
    assert rows.total_rows == arrow.total_rows
    assert rows.files_read == arrow.files_read
    return rows.rows


def test_every_plain_type_is_sampled_and_the_others_are_not_plain(
    con: CatalogConnection,
) -> None:
    assert set(PLAIN_SAMPLES) == PLAIN_TYPES
    for name, value in PLAIN_SAMPLES.items():
        (duck,) = con.duckdb.sql(f"SELECT {value}").types
        assert duck.id == name and plain_type(duck)
    for name, value in OTHER_SAMPLES.items():
        (duck,) = con.duckdb.sql(f"SELECT {value}").types
        assert duck.id == name and not plain_type(duck), name
    (nested,) = con.duckdb.sql("SELECT [{'a': [1], 'b': {'c': INTERVAL 1 DAY}}]").types
    assert not plain_type(nested)  # an interval deep inside


@pytest.mark.parametrize("limit", [None, 1, 40])
@pytest.mark.parametrize("kind", [*PLAIN_SAMPLES, *OTHER_SAMPLES])
def test_each_type_gives_the_values_arrow_gives(
    con: CatalogConnection, kind: str, limit: int | None
) -> None:
    value = {**PLAIN_SAMPLES, **OTHER_SAMPLES}[kind]
    sql = (
        f"SELECT {value} AS v, NULL::{_type(con, value)} AS none, [{value}, NULL] AS l, "
        f"{{'s': {value}}} AS st FROM range(3)"
    )
    rows = _same(con, sql, limit)
    assert len(rows) == (0 if kind == "timestamp_ns" else min(3, limit or 3))


def _type(con: CatalogConnection, value: str) -> str:
    (duck,) = con.duckdb.sql(f"SELECT {value}").types
    return str(duck)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT range AS n, range::VARCHAR AS s FROM range(5000) ORDER BY n DESC",
        "SELECT range % 7 AS k, count(*) AS n FROM range(10000) GROUP BY ALL ORDER BY k",
        "SELECT 1 AS a, 2 AS a, 3 AS b",
        "SUMMARIZE SELECT range AS a, range::VARCHAR AS b, range / 2 AS c, range % 2 = 0 AS d, "
        "NULL::INTEGER AS e FROM range(100)",
        "SELECT 1 WHERE false",
        "SHOW TABLES",
        "PRAGMA version",
        "SELECT 1; SELECT 2 AS b",
        "EXPLAIN SELECT 1",
    ],
)
@pytest.mark.parametrize("limit", [None, 3, 40])
def test_rows_counts_and_order_are_those_of_arrow(
    con: CatalogConnection, sql: str, limit: int | None
) -> None:
    _same(con, sql, limit)


def test_more_rows_than_shown_are_counted(con: CatalogConnection) -> None:
    rows = con.query_rows("SELECT range AS n FROM range(100000) WHERE range % 3 = 0", limit=2)
    assert rows.rows == [(0,), (3,)]
    assert rows.total_rows == 33334


def test_errors_are_one_line_as_before(con: CatalogConnection) -> None:
    for sql, reason in [
        ("SELECT 'x'::INT", "Conversion Error: Could not convert string 'x' to INT32"),
        ("SELECT * FROM nope", "Catalog Error: Table with name nope does not exist!"),
    ]:
        for limit in (None, 5):
            with pytest.raises(QueryError) as raised:
                con.query_rows(sql, limit=limit)
            assert str(raised.value).startswith(f"query failed: {reason}")
            with pytest.raises(QueryError) as before:
                con.query(sql, limit=limit)
            assert str(raised.value) == str(before.value)


def test_a_writing_connection_runs_writes(settings: Settings) -> None:
    with connect(settings, read_only=False) as con:
        made = con.query_rows("CREATE TABLE t AS SELECT 1.5::DECIMAL(3, 1) AS d")
        assert (made.columns, made.rows) == (["Count"], [(1,)])
        assert con.query_rows("SELECT * FROM t").rows == con.query("SELECT * FROM t").rows
