"""Queries over the catalog: same answers as reading the files directly, pruned through the
catalog, read-only by default. Parametrised over SQLite and PostgreSQL catalogs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.catalog import Catalog, Crawler, open_catalog
from trafficlake.catalog.crawler import run_crawler
from trafficlake.config import Settings, load_settings
from trafficlake.query import QueryError, ReadOnlyQueryError, connect, format_result, run_query
from trafficlake.storage import Lake

HOURS = [(20, 6), (20, 7), (21, 6), (21, 7), (21, 8)]


@dataclass
class QueryEnv:
    settings: Settings
    catalog: Catalog
    lake: Lake
    files: dict[tuple[int, int], list[str]]
    """(day, hour) -> file URIs"""

    def direct(self, sql_tail: str = "") -> list[tuple[Any, ...]]:
        """The same data read straight from the lake by DuckDB (no catalog)."""
        glob = self.lake.uri("raw") + "/*/*/*/*/*.parquet"
        con = duckdb.connect()
        return con.execute(
            f"SELECT * EXCLUDE (year, month, day, hour), year, month, day, hour FROM read_parquet('{glob}', "
            f"hive_partitioning = true) {sql_tail}"
        ).fetchall()


@pytest.fixture
def qenv(settings: Settings, catalog_url: str, raw_writer: Any) -> Iterator[QueryEnv]:
    s = load_settings(None, overrides={"catalog": {"url": catalog_url}})
    lake = Lake.from_settings(s)
    files: dict[tuple[int, int], list[str]] = {}
    for day, hour in HOURS:
        for offset in (0, 30):
            key = raw_writer.write_hour(lake, 2026, 11, day, hour, offset=offset)
            files.setdefault((day, hour), []).append(lake.uri(key))
    with open_catalog(s) as cat:
        assert run_crawler(s, "raw", catalog=cat, lake=lake).status == "SUCCEEDED"
        yield QueryEnv(s, cat, lake, files)


def _q(env: QueryEnv, sql: str) -> Any:
    return run_query(env.settings, sql, catalog=env.catalog, lake=env.lake)


def _files(env: QueryEnv, *parts: tuple[int, int]) -> list[str]:
    return sorted(f for p in parts for f in env.files[p])


ORDER = "ORDER BY tijd_waarneming, unieke_id, arrival_time"


def test_results_equal_a_direct_duckdb_read(qenv: QueryEnv) -> None:
    res = _q(qenv, f"SELECT * FROM traffic.raw {ORDER}")
    assert res.rows == qenv.direct(ORDER)
    assert res.files_read == _files(qenv, *HOURS)
    assert res.columns[-4:] == ["year", "month", "day", "hour"]
    assert res.table.schema.field("hour").type == pa.int32()
    agg = _q(
        qenv,
        "SELECT day, count(*), sum(verkeersintensiteit_klasse2) FROM traffic.raw GROUP BY day ORDER BY day",
    )
    direct = (
        duckdb.connect()
        .execute(
            f"SELECT day, count(*), sum(verkeersintensiteit_klasse2) FROM read_parquet('{qenv.lake.uri('raw')}/*/*/*/*/*.parquet',"
            " hive_partitioning = true) GROUP BY day ORDER BY day"
        )
        .fetchall()
    )
    assert agg.rows == direct


def test_filter_on_all_keys_reads_one_partition(qenv: QueryEnv) -> None:
    res = _q(
        qenv,
        f"SELECT * FROM traffic.raw WHERE year = 2026 AND month = 11 AND day = 21 AND hour = 7 {ORDER}",
    )
    assert res.files_read == _files(qenv, (21, 7))
    assert res.rows == qenv.direct(
        f"WHERE year = 2026 AND month = 11 AND day = 21 AND hour = 7 {ORDER}"
    )
    assert len(res.rows) > 0


@pytest.mark.parametrize(
    ("where", "parts"),
    [
        ("day = 21 AND hour IN (6, 8)", [(21, 6), (21, 8)]),
        ("day BETWEEN 20 AND 20 AND hour >= 7", [(20, 7)]),
        ("hour < 7", [(20, 6), (21, 6)]),
        ("7 < hour", [(21, 8)]),
        ("(day = 21) AND hour = '8' AND unieke_id > 0", [(21, 8)]),
        ("day = 21 OR hour = 6", HOURS),  # OR: not pruned, still correct
        ("day + 0 = 21", HOURS),  # an expression: not pruned, still correct
        ("day = 22", []),
    ],
)
def test_pruning_in_between_ranges(
    qenv: QueryEnv, where: str, parts: list[tuple[int, int]]
) -> None:
    res = _q(qenv, f"SELECT * FROM traffic.raw WHERE {where} {ORDER}")
    assert res.files_read == _files(qenv, *parts)
    assert res.rows == qenv.direct(f"WHERE {where} {ORDER}")


def test_event_time_filters_prune_through_partition_stats(qenv: QueryEnv, raw_writer: Any) -> None:
    start = raw_writer.hour_start(2026, 11, 21, 7)
    for where, parts in [
        (f"tijd_waarneming >= {start} AND tijd_waarneming < {start + 3600}", [(21, 7)]),
        (f"tijd_waarneming BETWEEN {start - 3600} AND {start - 1}", [(21, 6)]),
        (f"tijd_waarneming IN ({start}, {start + 3600})", [(21, 7), (21, 8)]),
        (f"tijd_waarneming > {start + 3600 * 24}", []),
        # an integer text: DuckDB casts it to the column's BIGINT, so it prunes the same way
        (f"tijd_waarneming > '{start}'", [(21, 7), (21, 8)]),
        (f"tijd_waarneming > '{start}.5'", HOURS),  # not an integer text: not pruned
    ]:
        res = _q(qenv, f"SELECT * FROM traffic.raw WHERE {where} {ORDER}")
        assert res.files_read == _files(qenv, *parts), where
        assert res.rows == qenv.direct(f"WHERE {where} {ORDER}"), where


def test_joins_and_subqueries_prune_per_reference(qenv: QueryEnv) -> None:
    sql = (
        "SELECT a.unieke_id, a.tijd_waarneming, b.tijd_waarneming FROM traffic.raw a "
        "LEFT JOIN traffic.raw b ON a.unieke_id = b.unieke_id AND b.tijd_waarneming = a.tijd_waarneming + 3600 "
        "WHERE a.day = 21 AND a.hour = 7 AND b.hour = 8 ORDER BY 1, 2"
    )
    res = _q(qenv, sql)
    assert res.files_read == _files(qenv, (21, 7), (21, 8))
    glob = qenv.lake.uri("raw") + "/*/*/*/*/*.parquet"
    direct = (
        duckdb.connect()
        .execute(sql.replace("traffic.raw", f"read_parquet('{glob}', hive_partitioning = true)"))
        .fetchall()
    )
    assert res.rows == direct and len(direct) > 0
    sub = _q(qenv, "SELECT count(*) FROM (SELECT * FROM traffic.raw WHERE day = 20) WHERE hour = 6")
    assert sub.files_read == _files(qenv, (20, 6), (20, 7))
    assert sub.rows == [(len(qenv.direct("WHERE day = 20 AND hour = 6")),)]


def test_new_partitions_are_seen_without_reconnecting(qenv: QueryEnv, raw_writer: Any) -> None:
    with connect(qenv.settings, catalog=qenv.catalog, lake=qenv.lake) as con:
        before = con.query("SELECT count(*) FROM traffic.raw").rows[0][0]
        raw_writer.write_hour(qenv.lake, 2026, 11, 22, 0)
        run_crawler(qenv.settings, "raw", catalog=qenv.catalog, lake=qenv.lake)
        assert con.query("SELECT count(*) FROM traffic.raw").rows[0][0] > before
        res = con.query("SELECT count(*) FROM traffic.raw WHERE day = 22")
        assert len(res.files_read) == 1 and "day=22" in res.files_read[0]
        cur = con.execute("SELECT max(hour) FROM traffic.raw WHERE day = 21")
        assert cur.fetchone() == (8,)
        # a table created after connecting appears; a dropped one disappears
        raw_writer.write_hour(qenv.lake, 2026, 11, 21, 1, prefix="transformed")
        run_crawler(qenv.settings, "transformed", catalog=qenv.catalog, lake=qenv.lake)
        assert con.query("SELECT count(*) FROM traffic.transformed").rows[0][0] > 0
        qenv.catalog.drop_table("traffic", "transformed")
        with pytest.raises(QueryError, match="transformed"):
            con.query("SELECT count(*) FROM traffic.transformed")


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM traffic.raw",
        "CREATE TABLE x AS SELECT 1",
        "COPY (SELECT 1) TO 'out.csv'",
        "SELECT 1; DROP VIEW traffic.raw",
        "EXPLAIN ANALYZE CREATE TABLE y AS SELECT 1",
        "ATTACH 'other.db'",
        "INSTALL spatial",
        "SET threads = 1",
        "PRAGMA threads = 1",
        "PRAGMA force_checkpoint",
        "PRAGMA enable_profiling",
        "pragma Disable_Optimizer;",
    ],
)
def test_read_only_rejects_writes(qenv: QueryEnv, sql: str) -> None:
    with pytest.raises(ReadOnlyQueryError, match="not allowed in a read-only query"):
        _q(qenv, sql)


@pytest.mark.parametrize("sql", ["", "  ;  ", "/* nothing */"])
def test_sql_without_a_statement_is_a_query_error(qenv: QueryEnv, sql: str) -> None:
    with pytest.raises(QueryError, match="no SQL statement to run"):
        _q(qenv, sql)


def test_nanosecond_timestamps_print_as_text_and_nested_ones_say_what_to_do(
    qenv: QueryEnv,
) -> None:
    res = _q(qenv, "SELECT TIMESTAMP_NS '2026-01-01 00:00:00.123456789' AS ns, 7 AS n")
    assert res.rows == [("2026-01-01 00:00:00.123456789", 7)]
    assert format_result(res, "csv") == "ns,n\n2026-01-01 00:00:00.123456789,7\n"
    assert json.loads(format_result(res, "json")) == [
        {"ns": "2026-01-01 00:00:00.123456789", "n": 7}
    ]
    nested = _q(qenv, "SELECT [TIMESTAMP_NS '2026-01-01 00:00:00.000000001'] AS l")
    with pytest.raises(QueryError, match=r"^column l: list<.*cannot be shown \(cast them"):
        nested.rows  # noqa: B018


def test_reads_allowed_and_writes_when_asked(qenv: QueryEnv) -> None:
    for sql in (
        "DESCRIBE traffic.raw",
        "SHOW TABLES",
        "EXPLAIN SELECT * FROM traffic.raw WHERE hour = 7",
        "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
        "SUMMARIZE traffic.raw",
        "PRAGMA show_tables",
        "PRAGMA version",
        "pragma Table_Info('traffic.raw');",
    ):
        _q(qenv, sql)
    desc = _q(qenv, "DESCRIBE traffic.raw")
    assert ("tijd_waarneming", "BIGINT") in [(r[0], r[1]) for r in desc.rows]
    with connect(qenv.settings, catalog=qenv.catalog, lake=qenv.lake, read_only=False) as con:
        con.execute("CREATE TABLE t AS SELECT * FROM traffic.raw WHERE hour = 7")
        assert con.query("SELECT count(*) FROM t").rows == [(len(qenv.direct("WHERE hour = 7")),)]


def test_locations_view_and_output_formats(qenv: QueryEnv) -> None:
    table = pa.table({"unieke_id": pa.array([1, 2], pa.int32()), "naam": ["a", "b,c"]})
    path = qenv.lake.path("locations/locations.parquet")
    qenv.lake.fs.create_dir(qenv.lake.path("locations"))
    pq.write_table(table, path)
    res = _q(qenv, "SELECT * FROM traffic.locations ORDER BY unieke_id")
    assert res.rows == [(1, "a"), (2, "b,c")]
    assert format_result(res, "csv") == 'unieke_id,naam\n1,a\n2,"b,c"\n'
    assert format_result(res, "json").startswith("[")


def test_non_hive_folders_and_empty_tables(qenv: QueryEnv, raw_writer: Any) -> None:
    lake = qenv.lake
    for folder in ("a", "b"):
        raw_writer.write_parquet(
            lake, f"other/{folder}/x.parquet", raw_writer.raw_table(2026, 11, 21, 1, minutes=1)
        )
    qenv.catalog.create_crawler(Crawler("other", ["other/"]))
    assert (
        run_crawler(qenv.settings, "other", catalog=qenv.catalog, lake=lake).status == "SUCCEEDED"
    )
    res = _q(
        qenv, "SELECT partition_0, count(*) FROM traffic.other WHERE partition_0 = 'b' GROUP BY 1"
    )
    assert res.rows == [("b", 3)] and len(res.files_read) == 1
    empty = _q(qenv, "SELECT * FROM traffic.raw WHERE year = 1999")
    assert empty.rows == [] and empty.files_read == [] and "tijd_waarneming" in empty.columns


def test_parameters_are_bound(qenv: QueryEnv) -> None:
    res = run_query(
        qenv.settings, "SELECT count(*) FROM traffic.raw WHERE day = 21 AND hour = ?", params=[7],
        catalog=qenv.catalog, lake=qenv.lake,
    )  # fmt: skip
    assert res.rows == [(len(qenv.direct("WHERE day = 21 AND hour = 7")),)]
    assert res.files_read == _files(
        qenv, (21, 6), (21, 7), (21, 8)
    )  # the placeholder is not pruned on


def test_a_with_name_is_not_the_catalog_table_it_shares_its_name_with() -> None:
    from trafficlake.catalog import Column, Table
    from trafficlake.query_pruning import select_partitions_for

    jams = Table(
        database="traffic",
        name="jams",
        columns=[Column("x", "int")],
        partition_keys=[Column("day", "int")],
        location="jams/",
        format="parquet",
    )
    tables = {("traffic", "jams"): jams}
    cte = "WITH jams AS (SELECT 1 AS x) SELECT * FROM jams"
    assert select_partitions_for(cte, tables, "traffic") == {}
    both = select_partitions_for(f"{cte} UNION ALL SELECT x FROM traffic.jams", tables, "traffic")
    assert both is not None and list(both) == [("traffic", "jams")]


@pytest.mark.parametrize(
    ("sql", "reads"),
    [
        ("SELECT count(*) FROM traffic.raw", True),
        ("FROM raw SELECT count(*)", True),  # unqualified: the catalog's database
        ("SELECT count(*) FROM traffic.RAW", True),  # DuckDB's names ignore case
        ('SELECT count(*) FROM "Traffic"."Raw"', True),
        ("SELECT (SELECT count(*) FROM raw) AS n", True),
        ("WITH raw AS (SELECT 1 AS x) SELECT count(*) FROM raw", False),
        ("WITH RAW AS (SELECT 1 AS x) SELECT count(*) FROM raw", False),
        ("SELECT count(*) AS raw FROM range(3)", False),  # the name, but not a table
        ("SELECT count(*) FROM traffic.raw WHERE hour >= 0", True),  # sqlglot's path
        ("SELECT count(*) FROM traffic.RAW WHERE hour >= 0", True),
    ],
)
def test_every_reference_reads_the_tables_it_names_and_only_those(
    qenv: QueryEnv, sql: str, reads: bool
) -> None:
    res = _q(qenv, sql)
    assert res.files_read == (_files(qenv, *HOURS) if reads else [])
    counted = len(qenv.direct()) if reads else (3 if "range" in sql else 1)
    assert res.rows == [(counted,)]


EXPORTED_AS_PYTHON_PRINTS = [
    f"SELECT unieke_id, tijd_waarneming, voertuigsnelheid_rekenkundig_klasse2 / 3.0 AS third, "
    f"day FROM traffic.raw WHERE day = 21 AND hour >= 7 {ORDER}",
    f"SELECT * EXCLUDE (beschrijvende_id, actueel_publicatie) FROM traffic.raw WHERE false {ORDER}",
    "SELECT * FROM (VALUES (1, 'nan'::DOUBLE, DATE '2026-11-30'), (2, 'inf'::DOUBLE, NULL), "
    "(3, -0.0::DOUBLE, DATE '1970-01-01'), (4, 1e16::DOUBLE, NULL), (5, 1e-5::DOUBLE, NULL), "
    "(6, 1 / 3, NULL), (7, NULL::DOUBLE, NULL), (8, 123456789.123456789::DOUBLE, NULL), "
    "(9, -2.5e-300::DOUBLE, NULL)) t(i, d, dt) ORDER BY i;",
    "SELECT 42::UBIGINT AS u, -1::TINYINT AS t -- a trailing comment",
]


@pytest.mark.parametrize("sql", EXPORTED_AS_PYTHON_PRINTS)
@pytest.mark.parametrize("limit", [None, 3])
def test_csv_export_writes_what_the_python_formatter_writes(
    qenv: QueryEnv, tmp_path: Path, sql: str, limit: int | None
) -> None:
    """DuckDB's CSV writer (``trafficlake query -f csv``) gives the bytes Python's csv module
    gives for these types, pruned through the catalog like any query."""
    from trafficlake.query_export import export_csv

    folder = tmp_path / "export"
    folder.mkdir()
    out = folder / "out.csv"
    with connect(qenv.settings, catalog=qenv.catalog, lake=qenv.lake) as con:
        written = export_csv(con, sql, out, limit=limit)
        rows = con.query_rows(sql, limit=limit)
    assert written == len(rows.rows)
    assert out.read_text() == format_result(rows, "csv")
    assert list(folder.iterdir()) == [out]  # no part file left


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT true AS b",  # DuckDB prints true, Python True
        "SELECT '' AS s, 1 AS n",  # DuckDB "" (not NULL), Python an empty field
        "SELECT 0.1::REAL AS r",
        "SELECT TIMESTAMP '2026-11-30 07:22:00.123' AS ts",
        "SHOW TABLES",
        "SELECT 1; SELECT 2",
        "CREATE TABLE x AS SELECT 1",
    ],
)
def test_csv_export_leaves_other_results_to_python(
    qenv: QueryEnv, tmp_path: Path, sql: str
) -> None:
    from trafficlake.query_export import export_csv

    folder = tmp_path / "export"
    folder.mkdir()
    out = folder / "out.csv"
    with connect(qenv.settings, catalog=qenv.catalog, lake=qenv.lake) as con:
        assert export_csv(con, sql, out) is None
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT no_such_column FROM traffic.raw", "no_such_column"),  # found when binding
        # found while the rows are written
        ("SELECT CAST('x' || unieke_id AS INTEGER) AS n FROM traffic.raw", "Conversion Error"),
    ],
)
def test_a_failed_csv_export_writes_nothing(
    qenv: QueryEnv, tmp_path: Path, sql: str, error: str
) -> None:
    from trafficlake.query_export import export_csv

    folder = tmp_path / "export"
    folder.mkdir()
    out = folder / "out.csv"
    out.write_text("before\n")
    with (
        connect(qenv.settings, catalog=qenv.catalog, lake=qenv.lake) as con,
        pytest.raises(QueryError, match=f"query failed: .*{error}"),
    ):
        export_csv(con, sql, out)
    assert out.read_text() == "before\n"
    assert list(folder.iterdir()) == [out]
