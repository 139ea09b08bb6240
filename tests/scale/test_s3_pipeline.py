"""The whole lake on S3 (moto server): delivery stream → crawler → DuckDB transform → query,
every stage through its public API, and the result equal to the same pipeline on a local lake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from trafficlake.catalog import open_catalog
from trafficlake.catalog.crawler import run_crawler
from trafficlake.config import Settings
from trafficlake.delivery.stream import DeliveryStream
from trafficlake.miv.simulator import Simulator
from trafficlake.query import run_query, run_query_rows
from trafficlake.storage import Lake
from trafficlake.transform import run_transform

pytestmark = pytest.mark.s3


def _deliver(settings: Settings, events: pa.Table, arrival_s: int) -> int:
    with DeliveryStream.from_settings(settings, clock=lambda: float(arrival_s)) as stream:
        n = stream.put_events(events)
        result = stream.put_record_batch([b"{not json", {"unieke_id": "x"}])
        assert result["FailedPutCount"] >= 1
    return n


def _run_pipeline(settings: Settings, events: pa.Table, arrival_s: int) -> Any:
    n = _deliver(settings, events, arrival_s)
    crawl = run_crawler(settings, "raw")
    assert crawl.status == "SUCCEEDED", crawl.error_message
    run = run_transform(settings, engine="duckdb")
    assert run.state == "SUCCEEDED", run.error
    return n, run


@pytest.mark.slow
def test_whole_pipeline_on_s3(
    s3_settings: Settings, s3_server: Any, s3_bucket: str, tmp_path: Path, scale: Any
) -> None:
    sim = Simulator(seed=21, lanes=30, clean=False)
    start = scale.BASE_DAY - 40 * 60
    events = pa.Table.from_batches(list(sim.minutes(start, 80)))
    arrival_s = scale.BASE_DAY + 3 * 3600 + 5

    # 1. delivery: Parquet objects under raw/ (arrival-time partition) and errors/ on S3
    n, run = _run_pipeline(s3_settings, events, arrival_s)
    assert n == events.num_rows
    listed = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix="lake/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    raw_keys = [k for k in keys if k.startswith("lake/raw/year=2026/month=11/day=21/hour=3/")]
    assert raw_keys and all(k.endswith(".parquet") for k in raw_keys)
    assert any(k.startswith("lake/errors/format-conversion-failed/") for k in keys)

    # 2. the crawler recorded the S3 partitions with event-time stats from the footers
    with open_catalog(s3_settings) as cat:
        parts = cat.list_partitions("traffic", "raw")
        assert [p.values for p in parts] == [("2026", "11", "21", "3")]
        lo, hi = parts[0].stats["tijd_waarneming"]
        assert lo <= start and hi >= start + 79 * 60 - 3600  # artefacts may lie outside
        transformed = cat.list_partitions("traffic", "transformed")
    assert run.result["days"][-2:] == ["2026-11-20", "2026-11-21"]
    assert transformed and all(
        f.key.startswith("transformed/") for p in transformed for f in p.files
    )

    # 3. no staging left behind on S3 (atomic publication went through the catalog)
    lake = Lake.from_settings(s3_settings)
    assert lake.list("transformed/_staging") == []

    # 4. query over the S3 tables (DuckDB reads s3:// through httpfs), pruned by partition
    total = run_query(s3_settings, "SELECT count(*) FROM traffic.transformed")
    assert total.rows[0][0] == run.result["rows_written"] > 0
    hour = run_query(
        s3_settings,
        "SELECT count(*), min(recordTimestamp) FROM traffic.transformed "
        "WHERE year = 2026 AND month = 11 AND day = 21 AND hour = 0",
    )
    assert hour.rows[0][1] == scale.BASE_DAY
    assert hour.files_read and all(u.startswith(f"s3://{s3_bucket}/lake/") for u in hour.files_read)
    assert len(hour.files_read) < len(total.files_read)
    # what `trafficlake query` prints: the same rows and count as Arrow gives
    sql = "SELECT * FROM traffic.transformed ORDER BY ALL"
    shown = run_query_rows(s3_settings, sql, limit=5)
    arrow = run_query(s3_settings, sql, limit=5)
    assert (shown.columns, shown.rows, shown.total_rows) == (
        arrow.columns, arrow.rows, arrow.total_rows
    )  # fmt: skip
    assert shown.total_rows == run.result["rows_written"] and shown.files_read == total.files_read

    # 5. the same pipeline on a local lake gives the same rows
    local = scale.pipeline_settings(tmp_path / "local")
    _run_pipeline(local, events, arrival_s)
    on_s3 = run_query(s3_settings, "SELECT * FROM traffic.transformed").table
    on_disk = run_query(local, "SELECT * FROM traffic.transformed").table
    scale.assert_same_rows(on_s3, on_disk)


def test_second_run_on_s3_replaces_files(s3_settings: Settings, scale: Any) -> None:
    """Late data → the day is rebuilt; the replaced S3 objects are deleted after the commit."""
    sim = Simulator(seed=4, lanes=12, clean=True)
    start = scale.BASE_DAY + 600
    first = pa.Table.from_batches(list(sim.minutes(start, 30)))
    _run_pipeline(s3_settings, first, scale.BASE_DAY + 3600)
    lake = Lake.from_settings(s3_settings)
    before = {f.key for f in lake.list("transformed")}
    late = pa.Table.from_batches(list(sim.minutes(start + 30 * 60, 10)))
    _, run = _run_pipeline(s3_settings, late, scale.BASE_DAY + 5 * 3600)
    assert run.result["days"] == ["2026-11-21"]
    after = {f.key for f in lake.list("transformed")}
    with open_catalog(s3_settings) as cat:
        listed = {f.key for p in cat.list_partitions("traffic", "transformed") for f in p.files}
    assert after == listed and not (before & after)
    count = run_query(
        s3_settings, "SELECT count(DISTINCT recordTimestamp) FROM traffic.transformed"
    )
    assert count.rows[0][0] == 40
