"""The web app's DuckDB connections: kept between requests, one request at a time each, and
answering as a new connection would after the catalog or the lake changed."""

from __future__ import annotations

import threading
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.catalog.crawler import run_crawler
from trafficlake.catalog.names import LOCATIONS_KEY, locations_table
from trafficlake.config import Settings
from trafficlake.storage import Lake
from trafficlake.web.context import KEPT_CONNECTIONS, WebContext
from trafficlake.web.data import NotFoundError

COUNT = "SELECT count(*) FROM traffic.raw"


def _crawled(settings: Settings, raw_writer: Any, *hours: int) -> Lake:
    lake = Lake.from_settings(settings)
    for hour in hours:
        raw_writer.write_hour(lake, 2026, 11, 16, hour)
    assert run_crawler(settings, "raw").status == "SUCCEEDED"
    return lake


def test_a_request_takes_a_kept_connection_and_sees_new_partitions(
    settings: Settings, raw_writer: Any
) -> None:
    lake = _crawled(settings, raw_writer, 6)
    ctx = WebContext(settings)
    try:
        with ctx.sql() as first:
            before = first.query(COUNT).rows[0][0]
        _crawled(settings, raw_writer, 7)  # a new partition, crawled between two requests
        with ctx.sql() as second:
            assert second is first
            assert second.query(COUNT).rows[0][0] == 2 * before
            assert len(second.files_read) == 2
        raw_writer.write_hour(lake, 2026, 11, 16, 6, offset=30, prefix="transformed")
        assert run_crawler(settings, "transformed").status == "SUCCEEDED"  # a new table
        with ctx.sql() as third:
            assert third is first
            assert third.query("SELECT count(*) FROM traffic.transformed").rows[0][0] > 0
    finally:
        ctx.close()
    with pytest.raises(Exception, match="closed"):
        first.duckdb.execute("SELECT 1")


def test_concurrent_requests_never_share_a_connection(settings: Settings, raw_writer: Any) -> None:
    _crawled(settings, raw_writer, 6)
    ctx = WebContext(settings)
    inside = threading.Barrier(3)
    used: list[int] = []

    def request() -> None:
        with ctx.sql() as con:
            inside.wait(timeout=30)  # all three hold one at the same time
            used.append(id(con))
            assert con.query(COUNT).rows[0][0] > 0

    try:
        threads = [threading.Thread(target=request) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(set(used)) == 3
        with ctx.sql() as later:  # the three are kept; a later request takes one of them
            assert id(later) in used
    finally:
        ctx.close()


def test_a_burst_of_requests_leaves_a_bounded_number_of_connections_kept(
    settings: Settings, raw_writer: Any
) -> None:
    _crawled(settings, raw_writer, 6)
    ctx = WebContext(settings)
    burst = KEPT_CONNECTIONS + 3

    def at_once(n: int) -> list[Any]:
        inside = threading.Barrier(n)
        held: list[Any] = []

        def request() -> None:
            with ctx.sql() as con:
                inside.wait(timeout=30)
                held.append(con)

        threads = [threading.Thread(target=request) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(held) == n
        return held

    try:
        first = at_once(burst)
        again = at_once(burst)
        kept = [con for con in again if any(con is old for old in first)]
        assert len(kept) == KEPT_CONNECTIONS
        for con in first:  # the others were closed when their request was answered
            if not any(con is k for k in kept):
                with pytest.raises(Exception, match="closed"):
                    con.duckdb.execute("SELECT 1")
    finally:
        ctx.close()


def test_a_failed_request_closes_its_connection(settings: Settings, raw_writer: Any) -> None:
    _crawled(settings, raw_writer, 6)
    ctx = WebContext(settings)
    try:
        with pytest.raises(NotFoundError), ctx.sql() as failed:
            raise NotFoundError("no such location")
        with ctx.sql() as next_one:
            assert next_one is not failed
            assert next_one.query(COUNT).rows[0][0] > 0
    finally:
        ctx.close()


def test_a_new_locations_file_gives_a_new_connection(settings: Settings, raw_writer: Any) -> None:
    lake = _crawled(settings, raw_writer, 6)
    ctx = WebContext(settings)

    def locations(names: list[str]) -> None:
        table = pa.table({"lve_nr": pa.array(range(len(names)), pa.int32()), "naam": names})
        with lake.open_atomic(LOCATIONS_KEY) as out:
            pq.write_table(table, out)

    try:
        with ctx.sql() as first:
            assert not first.has_view(locations_table(settings))
        locations(["a", "b"])
        with ctx.sql() as second:
            assert second is not first
            assert second.query("SELECT count(*) FROM traffic.locations").rows == [(2,)]
        with ctx.sql() as third:
            assert third is second
        locations(["a", "b", "c"])  # replaced: another size
        with ctx.sql() as fourth:
            assert fourth is not second
            assert fourth.query("SELECT count(*) FROM traffic.locations").rows == [(3,)]
    finally:
        ctx.close()
