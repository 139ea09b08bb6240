"""Raw compaction on an S3 lake (moto server): the delivered objects of an hour become one."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from trafficlake.catalog import open_catalog
from trafficlake.catalog.compaction import compact
from trafficlake.catalog.crawler import run_crawler
from trafficlake.catalog.names import RAW
from trafficlake.config import Settings
from trafficlake.delivery.stream import DeliveryStream
from trafficlake.miv.simulator import Simulator
from trafficlake.query import run_query

pytestmark = pytest.mark.s3


def test_compaction_on_s3(
    s3_settings: Settings, s3_server: Any, s3_bucket: str, scale: Any
) -> None:
    sim = Simulator(seed=4, lanes=20, clean=True)
    arrival = scale.BASE_DAY + 5 * 3600 + 10
    for block in range(3):  # three deliveries into the same arrival hour
        first = scale.BASE_DAY + 5 * 3600 - 600 + 120 * block
        events = pa.Table.from_batches(list(sim.minutes(first, 2)))
        with DeliveryStream.from_settings(s3_settings, clock=lambda: float(arrival)) as stream:
            stream.put_events(events)
    assert run_crawler(s3_settings, "raw").status == "SUCCEEDED"
    count = "SELECT count(*), sum(hash(unieke_id, tijd_waarneming)) FROM traffic.raw"
    before = run_query(s3_settings, count).table.to_pylist()

    done = compact(s3_settings, settle_seconds=0)  # 2026-11-21 has settled

    assert (done.partitions, done.files_before, done.files_after) == (1, 3, 1)
    listed = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix="lake/raw/")
    # (pyarrow's S3 file system leaves empty folder markers, keys ending in "/": no data)
    keys = [o["Key"] for o in listed.get("Contents", []) if not o["Key"].endswith("/")]
    assert len(keys) == 1 and "/compacted-" in keys[0]
    with open_catalog(s3_settings) as cat:
        (part,) = cat.list_partitions(*RAW)
    assert part.files[0].key == keys[0].removeprefix("lake/")
    assert run_query(s3_settings, count).table.to_pylist() == before
