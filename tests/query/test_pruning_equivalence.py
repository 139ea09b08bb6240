"""Pruning never changes an answer: randomized filters, casts and types, pruned vs unpruned.

A crawled table (an integer key written ``day=03`` too, a string key, a BIGINT statistics
column, a DOUBLE) is queried through the catalog (pruned) and straight from its files by DuckDB
(unpruned, nothing of trafficlake involved) with the same generated ``WHERE``; the rows must be
the same. The same filters go through the web API's ``POST /api/query``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trafficlake.catalog import Crawler, open_catalog
from trafficlake.catalog.crawler import run_crawler
from trafficlake.config import Settings, load_settings
from trafficlake.query import QueryError, connect
from trafficlake.storage import Lake

DAYS = {1: "1", 2: "2", 3: "03", 10: "10", 11: "11", 12: "12"}
REGIONS = ["a", "b", "B", "10"]
COLUMNS = "day, region, n, v"


@pytest.fixture(scope="module")
def lake_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("prune")
    s = load_settings(
        None,
        overrides={
            "lake": {"url": str(root / "lake")},
            "catalog": {"url": f"sqlite:///{root / 'catalog.db'}", "stats_columns": ["n"]},
        },
    )
    lake = Lake.from_settings(s)
    for day, folder in DAYS.items():
        for r, region in enumerate(REGIONS):
            n = [day * 100 + r * 10 + i for i in range(3)]
            table = pa.table({"n": pa.array(n, pa.int64()), "v": [x / 7 for x in n]})
            key = f"t/day={folder}/region={region}/part-0.parquet"
            with lake.open_atomic(key) as out:
                pq.write_table(table, out)
    with open_catalog(s) as cat:
        cat.create_crawler(Crawler("t", ["t/"]))
        assert run_crawler(s, "t", catalog=cat, lake=lake).status == "SUCCEEDED"
        table = cat.get_table("traffic", "t")
        assert {k.name: k.type for k in table.partition_keys} == {"day": "int", "region": "string"}
    yield s


def unpruned(s: Settings, where: str) -> tuple[str, list[tuple[Any, ...]]]:
    glob = Lake.from_settings(s).uri("t") + "/*/*/*.parquet"
    con = duckdb.connect()
    con.execute(
        "CREATE VIEW t AS SELECT * FROM read_parquet("
        f"'{glob}', hive_partitioning = true, hive_types = {{'day': INTEGER, 'region': VARCHAR}})"
    )
    try:
        return "ok", sorted(con.execute(f"SELECT {COLUMNS} FROM t WHERE {where}").fetchall())
    except duckdb.Error as exc:
        return type(exc).__name__, []


def pruned(s: Settings, where: str) -> tuple[str, list[tuple[Any, ...]], int]:
    with connect(s) as con:
        try:
            result = con.query(f"SELECT {COLUMNS} FROM traffic.t WHERE {where}")
        except QueryError:
            return "error", [], 0
        return "ok", sorted(result.rows), len(result.files_read)


# ---- generated filters ---------------------------------------------------------------------
ints = st.integers(-3, 14)
tenths = st.integers(-30, 149).map(lambda x: f"{x / 10:.1f}")
big = st.integers(-3, 1300)


def numbers(base: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    """Number literals as SQL text: plain, decimal, cast, quoted, extreme precision."""
    return st.one_of(
        base.map(str),
        base.map(lambda x: f"{x}.5"),
        tenths,
        tenths.map(lambda t: f"CAST({t} AS INTEGER)"),
        tenths.map(lambda t: f"CAST({t} AS BIGINT)"),
        tenths.map(lambda t: f"CAST({t} AS DECIMAL(4,0))"),
        tenths.map(lambda t: f"{t}::INT"),
        base.map(lambda x: f"CAST('{x}' AS INTEGER)"),
        base.map(lambda x: f"'{x:02d}'" if x >= 0 else f"'{x}'"),
        base.map(lambda x: f"' {x}'"),
        base.map(lambda x: f"({x})"),
        base.map(lambda x: f"-({-x})"),
        base.map(lambda x: f"{x}.000000000000000000001"),
        base.map(lambda x: f"{x - 1}.{'9' * 40}"),  # a DOUBLE in DuckDB: rounds up to x
        base.map(lambda x: f"{x}e0"),
    )


def strings() -> st.SearchStrategy[str]:
    plain = st.sampled_from(["a", "b", "B", "A", "10", "010", "b ", ""])
    return st.one_of(
        plain.map(lambda t: f"'{t}'"),
        plain.map(lambda t: f"CAST('{t}' AS VARCHAR)"),
        plain.map(lambda t: f"upper('{t}')"),
    )


def literal_for(column: str) -> st.SearchStrategy[str]:
    if column == "region":
        return strings()
    return numbers(big if column == "n" else ints)


@st.composite
def term(draw: Callable[..., Any]) -> str:
    column = draw(st.sampled_from(["day", "day", "region", "n", "v"]))
    lit = literal_for(column)
    kind = draw(st.sampled_from(["cmp", "cmp", "flip", "in", "between"]))
    if kind == "in":
        return f"{column} IN ({', '.join(draw(st.lists(lit, min_size=1, max_size=3)))})"
    if kind == "between":
        return f"{column} BETWEEN {draw(lit)} AND {draw(lit)}"
    op = draw(st.sampled_from(["=", "<", "<=", ">", ">="]))
    if kind == "flip":
        return f"{draw(lit)} {op} {column}"
    return f"{column} {op} {draw(lit)}"


filters = st.lists(term(), min_size=1, max_size=3).map(" AND ".join)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(where=filters)
def test_pruned_and_unpruned_answers_are_the_same(lake_settings: Settings, where: str) -> None:
    expected = unpruned(lake_settings, where)
    status, rows, _files = pruned(lake_settings, where)
    if expected[0] != "ok":
        return  # DuckDB itself refuses the filter (e.g. a cast out of range): nothing to compare
    assert status == "ok", where
    assert rows == expected[1], where


@pytest.mark.parametrize(
    ("where", "rows", "files"),
    [
        ("day = CAST(10.6 AS INTEGER)", 12, 24),  # DuckDB rounds to 11: never pruned on
        ("day = CAST(10.5 AS INTEGER)", 12, 24),
        ("day = CAST(1.4 AS DECIMAL(2,0))", 12, 24),
        ("day = 10.6", 0, 0),
        ("day = 3", 12, 4),  # the folder says day=03
        ("day = '03'", 12, 4),
        ("day < 2.5", 24, 8),
        ("n >= 1221", 5, 2),  # statistics of an integer column
        ("n > 1219.5", 6, 2),
        ("day <= 9.99999999999999999999999999999999999999999", 48, 24),  # DOUBLE 10.0
        ("region = 'b'", 18, 6),
    ],
)
def test_known_filters_prune_exactly_as_far_as_is_proven(
    lake_settings: Settings, where: str, rows: int, files: int
) -> None:
    status, got, read = pruned(lake_settings, where)
    assert status == "ok" and got == unpruned(lake_settings, where)[1]
    assert (len(got), read) == (rows, files)


@pytest.fixture(scope="module")
def web(lake_settings: Settings) -> Iterator[str]:
    import threading
    import time

    import uvicorn

    from trafficlake.web import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(lake_settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(where=filters)
def test_the_web_api_gives_the_unpruned_answer(
    lake_settings: Settings, web: str, where: str
) -> None:
    import httpx

    expected = unpruned(lake_settings, where)
    if expected[0] != "ok":
        return
    sql = f"SELECT {COLUMNS} FROM traffic.t WHERE {where}"
    response = httpx.post(f"{web}/api/query", json={"sql": sql, "limit": 10_000}, timeout=30)
    assert response.status_code == 200, (where, response.text)
    assert sorted(tuple(r) for r in response.json()["rows"]) == expected[1], where
