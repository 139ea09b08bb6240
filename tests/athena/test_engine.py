"""Athena statements on DuckDB over a real catalog and lake: Athena's semantics, writes that are
all-or-nothing, the 100-partition limit, DDL, and Athena's error shapes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.athena.engine import AthenaSession
from trafficlake.athena.errors import AthenaQueryError
from trafficlake.catalog import Catalog, Column, Table, open_catalog
from trafficlake.config import Settings
from trafficlake.storage import Lake


@pytest.fixture
def session(settings: Settings) -> Iterator[AthenaSession]:
    lake = Lake.from_settings(settings)
    os.makedirs(lake.path("src/d=1"), exist_ok=True)
    os.makedirs(lake.path("src/d=2"), exist_ok=True)
    pq.write_table(
        pa.table({"a": pa.array([1, 2, 3], pa.int32()), "b": ["x", "y", None],
                  "t": pa.array([1700000000, 1700003600, 1700090000], pa.int64())}),
        lake.path("src/d=1/f.parquet"),
    )  # fmt: skip
    pq.write_table(
        pa.table({"a": pa.array([-7, 7], pa.int32()), "b": ["n", "p"],
                  "t": pa.array([1700100000, 1700200000], pa.int64())}),
        lake.path("src/d=2/f.parquet"),
    )  # fmt: skip
    with open_catalog(settings) as cat:
        cat.create_database("anpr")
        s = AthenaSession(settings, cat, lake, database="anpr", query_id="q")
        run(s, "CREATE EXTERNAL TABLE src (a int, b string, t bigint) PARTITIONED BY (d int) "
               "STORED AS PARQUET LOCATION 's3://any-bucket/src/'")  # fmt: skip
        run(s, "MSCK REPAIR TABLE src")
        yield s
        s.close()


def run(s: AthenaSession, sql: str) -> list[tuple[Any, ...]]:
    return s.execute(sql).rows


def fails(s: AthenaSession, sql: str) -> str:
    with pytest.raises(AthenaQueryError) as info:
        s.execute(sql)
    return info.value.reason


def test_presto_semantics(session: AthenaSession) -> None:
    assert run(session, "SELECT 7 / 2, -7 / 2, 7.0 / 2, 7 / 2e0, typeof(7 / 2)") == [
        (3, -3, 3.5, 3.5, "INTEGER")
    ]
    assert run(session, "SELECT a / 2 FROM src WHERE d = 2 ORDER BY a") == [(-3,), (3,)]
    assert run(
        session, "SELECT CAST(2.5e0 AS integer), CAST(-2.5e0 AS bigint), CAST(2.5 AS integer)"
    ) == [(3, -3, 3)]  # halves away from zero, as Athena (DuckDB alone: 2, -2)
    # TRY around an aggregate (the seed's TRY(CAST(SUM(..) AS INTEGER))) and around a scalar
    assert run(
        session,
        "SELECT TRY(CAST(SUM(x) AS INTEGER)), TRY(CAST(SUM(y) AS INTEGER)), TRY(1 / 0) "
        "FROM (VALUES (2147483647, 1), (1, 2)) AS v(x, y)",
    ) == [(None, 3, None)]
    # UTC session: from_unixtime and the date parts agree with Athena
    assert run(
        session, "SELECT year(from_unixtime(1700000000)), hour(from_unixtime(1700000000))"
    ) == [(2023, 22)]
    # sums are bigint; overflow and division by zero fail as in Athena
    result = session.execute("SELECT sum(a) AS s FROM src")
    assert [c.type for c in result.columns] == ["bigint"] and result.rows == [(6,)]
    assert fails(session, "SELECT 1 / 0").startswith("DIVIDE_BY_ZERO: Division by zero")
    assert fails(session, "SELECT a % 0 FROM src").startswith("DIVIDE_BY_ZERO")
    assert fails(session, "SELECT CAST(2147483647 AS integer) + a FROM src").startswith(
        "NUMERIC_VALUE_OUT_OF_RANGE: "
    )
    # Trino names unnamed columns _colN and lowercases names
    assert [
        c.name for c in session.execute("SELECT count(*), a AS Big FROM src GROUP BY a").columns
    ] == ["_col0", "big"]


def test_error_shapes(session: AthenaSession) -> None:
    assert fails(session, "SELECT * FROM nope") == (
        "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.anpr.nope' does not exist"
    )
    assert fails(session, "SELECT zz FROM src").startswith(
        "COLUMN_NOT_FOUND: line 1:8: Column 'zz' cannot be resolved"
    )
    assert fails(session, "SELECT a FROM src WHERE").startswith("SYNTAX_ERROR: line 1:")
    assert fails(session, "SELECT * FROM other.src").startswith("TABLE_NOT_FOUND: line 1:15:")
    assert fails(session, "SELECT * FROM hive.anpr.src").startswith("CATALOG_NOT_FOUND")
    assert fails(session, "SELECT 1; SELECT 2").startswith("INVALID_REQUEST")
    assert fails(session, "SHOW TABLES IN nope") == "SCHEMA_NOT_FOUND: Schema 'nope' does not exist"
    os.remove(session.lake.path("src/d=2/f.parquet"))  # a file the catalog lists is gone
    assert fails(session, "SELECT count(*) FROM src").startswith("HIVE_CANNOT_OPEN_SPLIT: ")


def _partitions(cat: Catalog, name: str) -> list[tuple[str, ...]]:
    return [p.values for p in cat.list_partitions("anpr", name)]


def test_insert_into_appends_in_hive_layout(session: AthenaSession) -> None:
    run(session, "CREATE EXTERNAL TABLE dst (a int, b string) PARTITIONED BY (year bigint, "
                 "hour bigint) STORED AS PARQUET LOCATION 's3://any-bucket/dst/'")  # fmt: skip
    insert = (
        "INSERT INTO anpr.dst SELECT a, b, year(from_unixtime(t)), hour(from_unixtime(t)) "
        "FROM src WHERE d = 1"
    )
    assert session.execute(insert).update_count == 3
    assert session.execute(insert).update_count == 3  # INSERT INTO appends
    assert _partitions(session.catalog, "dst") == [("2023", "22"), ("2023", "23")]
    files = [e.key for e in session.lake.list("dst/")]
    assert len(files) == 4 and all(k.startswith("dst/year=2023/hour=2") for k in files)
    assert run(session, "SELECT a, count(*) FROM dst GROUP BY a ORDER BY a") == [
        (1, 2), (2, 2), (3, 2)
    ]  # fmt: skip
    # the files are Hive layout: no partition columns inside
    assert pq.read_schema(session.lake.path(files[0])).names == ["a", "b"]
    # a column list: missing columns are NULL
    run(session, "INSERT INTO dst (hour, a, year) SELECT 5, 9, 2024")
    assert run(session, "SELECT a, b FROM dst WHERE year = 2024") == [(9, None)]
    assert not hidden_files(session.lake)


def hidden_files(lake: Lake) -> list[str]:
    """Files a write left half done (``_``-prefixed names, which listings skip)."""
    return [n for _, _, names in os.walk(lake.path("")) for n in names if n.startswith("_")]


def test_failed_or_oversized_inserts_leave_nothing(session: AthenaSession) -> None:
    run(session, "CREATE EXTERNAL TABLE dst (a int) PARTITIONED BY (k int) STORED AS PARQUET "
                 "LOCATION 's3://any-bucket/dst/'")  # fmt: skip
    reason = fails(session, "INSERT INTO dst SELECT 1, x FROM UNNEST(sequence(1, 101)) AS u(x)")
    assert reason == (
        "HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of 100 open writers for partitions/buckets"
    )
    assert (
        session.execute(
            "INSERT INTO dst SELECT 1, x FROM UNNEST(sequence(1, 100)) AS u(x)"
        ).update_count
        == 100
    )
    before = sorted(e.key for e in session.lake.list(""))
    # a SELECT that fails halfway (division by zero on the last row)
    assert fails(session, "INSERT INTO dst SELECT 10 / (a - 3), a FROM src").startswith(
        "DIVIDE_BY_ZERO"
    )
    assert fails(session, "INSERT INTO dst SELECT b, a FROM src").startswith("TYPE_MISMATCH")
    assert sorted(e.key for e in session.lake.list("")) == before
    assert not hidden_files(session.lake)
    assert len(_partitions(session.catalog, "dst")) == 100


def test_transform_owned_tables_are_protected(session: AthenaSession) -> None:
    cat = session.catalog
    cat.create_table(Table("anpr", "owned", [Column("a", "int")], location="owned/",
                           parameters={"writer": "trafficlake.transform"}))  # fmt: skip
    for sql in ("INSERT INTO owned SELECT 1", "DROP TABLE owned", "MSCK REPAIR TABLE owned"):
        assert fails(session, sql).startswith("PERMISSION_DENIED: Access Denied: Cannot "), sql
    assert run(session, "SELECT count(*) FROM owned") == [(0,)]


def test_ctas_and_ddl(session: AthenaSession) -> None:
    run(
        session,
        "CREATE TABLE anpr.c WITH (format = 'PARQUET', partitioned_by = ARRAY['d'], "
        "external_location = 's3://any-bucket/ctas/c/') AS SELECT b, a * 2 AS a2, d FROM src",
    )
    assert run(session, "SELECT b, a2 FROM c WHERE d = 2 ORDER BY a2") == [("n", -14), ("p", 14)]
    assert [r[0] for r in run(session, "SHOW PARTITIONS c")] == ["d=1", "d=2"]
    assert run(session, "DESCRIBE c")[:3] == [
        ("b", "string", ""),
        ("a2", "int", ""),
        ("d", "int", ""),
    ]
    assert "PARTITIONED BY ( " in [r[0] for r in run(session, "SHOW CREATE TABLE c")]
    assert fails(session, "CREATE TABLE c AS SELECT 1 AS x").startswith("TABLE_ALREADY_EXISTS")
    assert fails(
        session,
        "CREATE TABLE c2 WITH (external_location = 's3://any-bucket/ctas/c/') AS SELECT 1 AS x",
    ).startswith("HIVE_PATH_ALREADY_EXISTS")
    assert ("c2",) not in run(session, "SHOW TABLES")
    run(session, "ALTER TABLE src DROP PARTITION (d = 2)")
    assert run(session, "SELECT count(*) FROM src") == [(3,)]
    run(session, "ALTER TABLE src ADD PARTITION (d = 2) LOCATION 's3://any-bucket/src/d=2/'")
    assert run(session, "SELECT count(*) FROM src") == [(5,)]
    assert fails(session, "ALTER TABLE src ADD PARTITION (d = 2)").startswith("ALREADY_EXISTS")
    run(session, "DROP TABLE c")
    assert run(session, "SHOW TABLES IN anpr") == [("src",)]
    assert session.lake.list("ctas/c/")  # external data stays, as in Athena


def test_an_unpartitioned_table_reads_what_its_location_holds(session: AthenaSession) -> None:
    # declared without files (as glue.create_table declares it): Athena reads the folder
    session.catalog.create_table(Table("anpr", "flat", [Column("a", "int")], location="flat/"))
    os.makedirs(session.lake.path("flat"), exist_ok=True)
    pq.write_table(
        pa.table({"a": pa.array([1, 2], pa.int32())}), session.lake.path("flat/1.parquet")
    )
    assert run(session, "SELECT sum(a) FROM flat") == [(3,)]
    pq.write_table(pa.table({"a": pa.array([4], pa.int32())}), session.lake.path("flat/2.parquet"))
    pq.write_table(
        pa.table({"a": pa.array([100], pa.int32())}), session.lake.path("flat/_tmp.parquet")
    )
    assert run(session, "SELECT sum(a) FROM flat") == [(7,)]
    # a file rewritten in place is read anew (the session keeps Parquet footers it has read)
    pq.write_table(
        pa.table({"a": pa.array([10, 20], pa.int32())}), session.lake.path("flat/1.parquet")
    )
    assert run(session, "SELECT sum(a) FROM flat") == [(34,)]


def test_functions_sqlglot_gets_wrong(session: AthenaSession) -> None:
    assert run(
        session,
        "SELECT hour(from_unixtime(1700000000, 'Europe/Brussels')), format('%s-%d', 'a', 3), "
        "map_agg(k, v)['b'] FROM (VALUES ('a', 1), ('b', 2)) AS t(k, v)",
    ) == [(23, "a-3", 2)]


def test_explain_shows_the_duckdb_plan_of_the_translated_query(session: AthenaSession) -> None:
    result = session.execute("EXPLAIN SELECT a / 2 FROM src WHERE d = 1")
    assert (result.statement_type, [c.name for c in result.columns]) == ("UTILITY", ["Query Plan"])
    plan = "\n".join(r[0] for r in result.rows)
    assert "PARQUET_SCAN" in plan.upper().replace(" ", "_") or "READ_PARQUET" in plan.upper()
    assert fails(session, "EXPLAIN ANALYZE INSERT INTO src SELECT 1, 1").startswith("NOT_SUPPORTED")
