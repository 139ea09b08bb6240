"""Event-time filters prune on the ranges of current and of stale rows apart: months-old
republished rows do not make every file look like it holds every hour."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.catalog import Crawler, open_catalog
from trafficlake.catalog.crawler import run_crawler
from trafficlake.config import Settings, load_settings
from trafficlake.query import run_query
from trafficlake.storage import Lake

T0 = 1_763_683_200  # 2025-11-21T00:00:00Z
OLD = T0 - 90 * 86400  # the minute the stale rows republish


@pytest.fixture
def stale_lake(tmp_path: Path) -> Iterator[tuple[Settings, list[str]]]:
    s = load_settings(
        None,
        overrides={
            "lake": {"url": str(tmp_path / "lake")},
            "catalog": {"url": f"sqlite:///{tmp_path / 'c.db'}"},
        },
    )
    lake = Lake.from_settings(s)
    keys = []
    for hour in range(6):
        times = [T0 + hour * 3600 + 60 * m for m in range(0, 60, 10)] + [OLD]
        flags = [1] * 6 + [0]
        table = pa.table(
            {
                "unieke_id": pa.array(range(7), pa.int32()),
                "tijd_waarneming": pa.array(times, pa.int64()),
                "actueel_publicatie": pa.array(flags, pa.int8()),
            }
        )
        key = f"t/hour={hour}/part.parquet"
        with lake.open_atomic(key) as out:
            pq.write_table(table, out)
        keys.append(lake.uri(key))
    with open_catalog(s) as cat:
        cat.create_crawler(Crawler("t", ["t/"]))
        assert run_crawler(s, "t", catalog=cat, lake=lake).status == "SUCCEEDED"
    yield s, keys


def direct(keys: list[str], where: str) -> list[tuple[int, int]]:
    files = ", ".join(f"'{k}'" for k in keys)
    sql = f"SELECT unieke_id, tijd_waarneming FROM read_parquet([{files}]) WHERE {where} ORDER BY 2, 1"
    return duckdb.connect().execute(sql).fetchall()


@pytest.mark.parametrize(
    ("where", "files"),
    [
        (f"tijd_waarneming BETWEEN {T0 + 3 * 3600} AND {T0 + 4 * 3600 - 1}", [3]),
        (f"tijd_waarneming >= {T0 + 5 * 3600}", [5]),
        (f"tijd_waarneming = {OLD}", [0, 1, 2, 3, 4, 5]),  # the stale rows are everywhere
        (f"tijd_waarneming < {T0}", [0, 1, 2, 3, 4, 5]),
        (f"tijd_waarneming BETWEEN {OLD + 1} AND {T0 - 1}", []),  # between the two ranges
    ],
)
def test_an_event_time_filter_reads_the_files_whose_current_or_stale_rows_match(
    stale_lake: tuple[Settings, list[str]], where: str, files: list[int]
) -> None:
    settings, keys = stale_lake
    result = run_query(
        settings, f"SELECT unieke_id, tijd_waarneming FROM traffic.t WHERE {where} ORDER BY 2, 1"
    )
    assert result.files_read == [keys[i] for i in files]
    assert result.rows == direct(keys, where)
