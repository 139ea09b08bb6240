"""Recovery never wedges a stream: an undeliverable WAL segment is set aside with its reason."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from trafficlake.delivery import DeliveryStream
from trafficlake.delivery.wal import KIND_RAW, UNDELIVERABLE_DIR, WriteAheadLog, encode_raw
from trafficlake.miv.simulator import Simulator
from trafficlake.schema import RAW_SCHEMA
from trafficlake.storage import Lake

MINUTE = 1_772_438_400  # 2026-03-02T08:00:00Z
YEAR_10000_MS = 253_402_300_800_000


def raw_rows(n: int, arrival_ms: int, seed: int) -> pa.Table:
    batch = Simulator(seed=seed, lanes=n, clean=True).minute(MINUTE)
    table = pa.Table.from_batches([batch])
    table = table.append_column("arrival_time", pa.array([arrival_ms] * n, pa.int64()))
    return table.cast(RAW_SCHEMA)


def leave_segments(wal_dir: Path, lake: Lake, tables: list[pa.Table | bytes]) -> None:
    """What a killed stream leaves: one segment per item (bytes: a frame that does not decode)."""
    wal = WriteAheadLog(wal_dir, owner={"lake": lake.url, "stream": "miv"})
    for item in tables:
        frame = item if isinstance(item, bytes) else encode_raw(item)
        wal.sync(wal.write([(KIND_RAW, frame)]))
        wal.rotate()
    wal._lock_file.close()  # killed: no clean close


def landed(lake: Lake) -> pa.Table:
    files = [e.key for e in lake.list("raw/") if e.key.endswith(".parquet")]
    return pa.concat_tables([pq.read_table(lake.path(k)) for k in files])


def open_stream(lake: Lake, wal_dir: Path) -> DeliveryStream:
    return DeliveryStream(lake, "miv", wal_dir=wal_dir, buffer_interval_s=0)


def test_a_segment_that_cannot_be_delivered_is_set_aside_and_the_stream_goes_on(
    tmp_path: Path,
) -> None:
    lake, wal_dir = Lake.from_url(str(tmp_path / "lake")), tmp_path / "wal"
    arrival = (MINUTE + 120) * 1000
    good_before, good_after = raw_rows(5, arrival, 1), raw_rows(7, arrival, 2)
    garbage = b"not an arrow stream"  # a whole frame (right checksum) that does not decode
    leave_segments(wal_dir, lake, [good_before, raw_rows(3, YEAR_10000_MS, 3), garbage, good_after])
    with open_stream(lake, wal_dir) as s:
        assert s.recovered_records == 12
        s.put_events(pa.Table.from_batches([Simulator(seed=4, lanes=2).minute(MINUTE)]))
    table = landed(lake)
    assert table.num_rows == 14
    assert pc.max(table.column("arrival_time")).as_py() < YEAR_10000_MS
    aside = sorted((wal_dir / UNDELIVERABLE_DIR).iterdir())
    names = [p.name for p in aside]
    assert names == [
        "segment-000000000002.wal",
        "segment-000000000002.wal.reason",
        "segment-000000000003.wal",
        "segment-000000000003.wal.reason",
    ]
    assert aside[1].read_text() == "ValueError: year 10000 is out of range\n"
    assert aside[3].read_text().startswith("ArrowInvalid: ")
    assert list(wal_dir.glob("segment-*.wal")) == []
    # recovery again: idempotent (nothing re-delivered, the set-aside segments stay aside)
    with open_stream(lake, wal_dir) as s:
        assert s.recovered_records == 0
        s.put_events(pa.Table.from_batches([Simulator(seed=5, lanes=1).minute(MINUTE)]))
    assert landed(lake).num_rows == 15
    assert sorted(p.name for p in (wal_dir / UNDELIVERABLE_DIR).iterdir()) == names
    # they stay listed, oldest first, to inspect or to move back into the WAL folder
    assert WriteAheadLog(wal_dir).set_aside_segments()[0].name == names[0]


def test_a_lake_error_stops_recovery_and_keeps_every_segment(tmp_path: Path) -> None:
    lake, wal_dir = Lake.from_url(str(tmp_path / "lake")), tmp_path / "wal"
    leave_segments(wal_dir, lake, [raw_rows(4, (MINUTE + 120) * 1000, 1)])
    (tmp_path / "lake" / "raw").write_text("a file where the raw folder belongs")
    with pytest.raises(OSError):
        open_stream(lake, wal_dir)
    assert len(list(wal_dir.glob("segment-*.wal"))) == 1
    assert not (wal_dir / UNDELIVERABLE_DIR).exists()
    (tmp_path / "lake" / "raw").unlink()
    with open_stream(lake, wal_dir) as s:
        assert s.recovered_records == 4
    assert landed(lake).num_rows == 4 and list(wal_dir.glob("segment-*.wal")) == []
