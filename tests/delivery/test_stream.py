"""DeliveryStream in process: formats, compression, buffering hints, errors, limits, WAL."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.delivery import (
    DeliveryStream,
    InvalidArgumentError,
    InvalidPrefixError,
    InvalidRecordError,
    StreamClosedError,
    WalLockedError,
    WalOwnerMismatchError,
)
from trafficlake.delivery.records import convert_objects
from trafficlake.delivery.wal import read_segment
from trafficlake.schema import EVENT_SCHEMA, RAW_SCHEMA
from trafficlake.storage import Lake

HOURLY = "raw/year=!{timestamp:yyyy}/month=!{timestamp:M}/day=!{timestamp:d}/hour=!{timestamp:H}/"


def events(make_record: Any, n: int, first: int = 0) -> pa.Table:
    batch, errors = convert_objects([make_record(i) for i in range(first, first + n)], 0)
    assert not errors
    return pa.Table.from_batches([batch]).drop_columns(["arrival_time"])


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.from_url(str(tmp_path / "lake"))


def stream(lake: Lake, tmp_path: Path, **kw: Any) -> DeliveryStream:
    kw.setdefault("prefix", HOURLY)
    kw.setdefault("buffer_interval_s", 900)
    kw.setdefault("wal_dir", tmp_path / "wal")
    return DeliveryStream(lake, "miv", **kw)


def read_raw(lake: Lake) -> pa.Table:
    files = [e.key for e in lake.list("raw/") if e.key.endswith(".parquet")]
    return pa.concat_tables([pq.read_table(lake.path(k)) for k in files])


@pytest.mark.parametrize("compression", ["zstd", "snappy", "gzip", "uncompressed"])
def test_parquet_compression(
    lake: Lake, tmp_path: Path, make_record: Any, compression: str
) -> None:
    with stream(lake, tmp_path, compression=compression) as s:
        assert s.put_events(events(make_record, 100)) == 100
    [entry] = lake.list("raw/")
    meta = pq.ParquetFile(lake.path(entry.key)).metadata
    assert meta.row_group(0).column(0).compression == compression.upper()
    table = pq.read_table(lake.path(entry.key))
    assert table.schema == RAW_SCHEMA and table.num_rows == 100


@pytest.mark.parametrize("compression", ["uncompressed", "gzip"])
def test_json_lines_output(lake: Lake, tmp_path: Path, make_record: Any, compression: str) -> None:
    with stream(lake, tmp_path, format="json", compression=compression) as s:
        s.put_record_batch([make_record(i) for i in range(7)])
    [entry] = lake.list("raw/")
    data = lake.read_bytes(entry.key)
    if compression == "gzip":
        assert entry.key.endswith(".json.gz")
        data = gzip.decompress(data)
    rows = [json.loads(line) for line in data.decode().splitlines()]
    assert [r["unieke_id"] for r in rows] == list(range(7))
    assert rows[0]["tijd_waarneming"] == 1588262160 and isinstance(rows[0]["arrival_time"], int)


def test_json_with_zstd_is_refused(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="gzip or uncompressed"):
        stream(lake, tmp_path, format="json", compression="zstd")


def test_invalid_prefix_fails_at_creation(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(InvalidPrefixError):
        stream(lake, tmp_path, prefix="raw/!{timestamp:Q}/")


def test_interval_flush(lake: Lake, tmp_path: Path, make_record: Any) -> None:
    with stream(lake, tmp_path, buffer_interval_s=1) as s:
        s.put_events(events(make_record, 10))
        assert lake.list("raw/") == []
        deadline = time.monotonic() + 10
        while not lake.list("raw/") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(lake.list("raw/")) == 1
        while list((tmp_path / "wal").glob("segment-*")) and time.monotonic() < deadline:
            time.sleep(0.05)  # the timer thread releases the segment just after the write
        assert list((tmp_path / "wal").glob("segment-*")) == []  # released after delivery


def test_size_flush(lake: Lake, tmp_path: Path, make_record: Any) -> None:
    table = events(make_record, 20_000)
    assert table.nbytes > 1024 * 1024
    with stream(lake, tmp_path, buffer_size_mb=1) as s:  # interval 900 s: only size is due
        s.put_events(table.slice(0, 100))
        assert lake.list("raw/") == []
        s.put_events(table)
        deadline = time.monotonic() + 10
        while not lake.list("raw/") and time.monotonic() < deadline:
            time.sleep(0.02)  # delivered by the timer thread, not inside the call
        assert len(lake.list("raw/")) == 1


def test_a_full_buffer_does_not_hold_up_the_call_that_fills_it(
    lake: Lake, tmp_path: Path, make_record: Any
) -> None:
    """The records are acknowledged once in the WAL: the call returns while a delivery is
    still under way (here: held by another flush), and the buffer is delivered after it."""
    table = events(make_record, 20_000)
    with stream(lake, tmp_path, buffer_size_mb=1) as s:
        returned = threading.Event()
        with s._flush_lock:  # a delivery in progress
            caller = threading.Thread(target=lambda: (s.put_events(table), returned.set()))
            caller.start()
            assert returned.wait(10), "the call waited for the delivery in progress"
            assert lake.list("raw/") == []
            assert s.stats()["buffered_bytes"] > 0
        caller.join()
        deadline = time.monotonic() + 10
        while not lake.list("raw/") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert read_raw(lake).num_rows == table.num_rows


def test_a_backed_up_buffer_makes_the_caller_wait(
    lake: Lake, tmp_path: Path, make_record: Any
) -> None:
    """Back-pressure: once twice the buffer size waits for the lake, the next call delivers in
    its own thread, so it returns only when the delivery in progress is done."""
    table = events(make_record, 20_000)
    with stream(lake, tmp_path, buffer_size_mb=1) as s:
        returned = threading.Event()
        puts = 1
        with s._flush_lock:  # a delivery in progress
            while s.stats()["buffered_bytes"] < 2 * s.buffer_size_bytes:
                s.put_events(table)  # acknowledged without waiting
                puts += 1
            caller = threading.Thread(target=lambda: (s.put_events(table), returned.set()))
            caller.start()
            assert not returned.wait(1.0), "a call past twice the buffer did not wait"
        assert returned.wait(10)
        caller.join()
    assert read_raw(lake).num_rows == puts * table.num_rows


def test_buffer_spanning_an_hour_goes_to_oldest_arrival(
    lake: Lake, tmp_path: Path, make_record: Any
) -> None:
    now = [ms(2026, 11, 21, 10, 59, 50) / 1000]
    with stream(lake, tmp_path, clock=lambda: now[0]) as s:
        s.put_events(events(make_record, 5))
        now[0] += 20
        s.put_events(events(make_record, 5, 5))
    [entry] = lake.list("raw/")
    assert entry.key.startswith("raw/year=2026/month=11/day=21/hour=10/miv-1-2026-11-21-10-59-50-")
    assert sorted(set(read_raw(lake).column("arrival_time").to_pylist())) == [
        ms(2026, 11, 21, 10, 59, 50),
        ms(2026, 11, 21, 11, 0, 10),
    ]


def test_simulated_clock_drives_the_interval(lake: Lake, tmp_path: Path, make_record: Any) -> None:
    now = [ms(2026, 1, 1, 0, 0, 0) / 1000]
    with stream(lake, tmp_path, clock=lambda: now[0], buffer_interval_s=300) as s:
        for _ in range(60):  # one simulated hour, one put a minute
            s.put_events(events(make_record, 3))
            now[0] += 60
    keys = [e.key for e in lake.list("raw/")]
    assert len(keys) == 12  # a file every 5 simulated minutes
    assert all("/hour=0/" in k for k in keys)


def test_errors_are_quarantined_with_reason(lake: Lake, tmp_path: Path, make_record: Any) -> None:
    bad = json.dumps({**make_record(1), "defect": "999"}).encode()
    with stream(lake, tmp_path) as s:
        result = s.put_record_batch([make_record(0), bad, make_record(2)])
        assert result["FailedPutCount"] == 1
        assert "RecordId" in result["RequestResponses"][0]
        assert result["RequestResponses"][1]["ErrorCode"] == "DataFormatConversion.InvalidValue"
        with pytest.raises(InvalidRecordError, match="not an integer"):
            s.put_record({**make_record(3), "lve_nr": "x"})
        s.put_error("<meetpunt unieke_id='7'>", "missing tijd_waarneming")
    [err_file] = lake.list("errors/")
    assert err_file.key.startswith("errors/format-conversion-failed/")
    lines = [json.loads(x) for x in lake.read_bytes(err_file.key).decode().splitlines()]
    assert [x["errorMessage"] for x in lines] == [
        "defect outside 0..127: '999'",
        "lve_nr is not an integer: 'x'",
        "missing tijd_waarneming",
    ]
    assert base64.b64decode(lines[0]["rawData"]) == bad
    assert all(isinstance(x["arrivalTimestamp"], int) and x["errorCode"] for x in lines)
    assert read_raw(lake).column("unieke_id").to_pylist() == [0, 2]


def test_values_outside_the_designs_bounds_go_to_the_error_prefix(
    lake: Lake, tmp_path: Path, make_record: Any
) -> None:
    """Bad input: a negative count or an exponent timestamp (1970) is quarantined with its
    reason, on the wire path (bytes) and the dict path alike; the good records land."""
    negative = json.dumps({**make_record(1), "verkeersintensiteit_klasse2": "-5"}).encode()
    exponent = json.dumps({**make_record(2), "tijd_waarneming": "1e3"}).encode()
    with stream(lake, tmp_path) as s:
        result = s.put_record_batch([make_record(0), negative, exponent, make_record(3)])
        assert result["FailedPutCount"] == 2
        assert [r.get("ErrorCode") for r in result["RequestResponses"]] == [
            None,
            "DataFormatConversion.InvalidValue",
            "DataFormatConversion.InvalidValue",
            None,
        ]
        wire = [json.dumps(make_record(i)).encode() for i in range(4, 8)]
        wire[2] = json.dumps({**make_record(6), "voertuigsnelheid_harmonisch_klasse1": "300"})
        result = s.put_record_batch([w if isinstance(w, bytes) else w.encode() for w in wire])
        assert result["FailedPutCount"] == 1 and "ErrorCode" in result["RequestResponses"][2]
    messages = sorted(
        json.loads(line)["errorMessage"]
        for e in lake.list("errors/")
        for line in lake.read_bytes(e.key).decode().splitlines()
    )
    assert messages == [
        "tijd_waarneming is not an integer: '1e3'",
        "verkeersintensiteit_klasse2 negative: '-5'",
        "voertuigsnelheid_harmonisch_klasse1 outside 0..254: '300'",
    ]
    assert sorted(read_raw(lake).column("unieke_id").to_pylist()) == [0, 3, 4, 5, 7]


def test_api_limits(lake: Lake, tmp_path: Path, make_record: Any) -> None:
    with stream(lake, tmp_path) as s:
        with pytest.raises(InvalidArgumentError, match="limit is 500"):
            s.put_record_batch([make_record(0)] * 501)
        with pytest.raises(InvalidArgumentError, match="1,000 KiB"):
            s.put_record_batch([b"x" * (1000 * 1024 + 1)])
        with pytest.raises(InvalidArgumentError, match="4 MiB"):
            s.put_record_batch([b"x" * (1000 * 1024)] * 5)
        with pytest.raises(InvalidArgumentError, match="at least 1"):
            s.put_record_batch([])
        assert s.put_record_batch([b"x" * (1000 * 1024)])["FailedPutCount"] == 1
    s.close()
    with pytest.raises(StreamClosedError):
        s.put_events(events(make_record, 1))


def test_one_stream_per_wal_dir(lake: Lake, tmp_path: Path) -> None:
    with stream(lake, tmp_path), pytest.raises(WalLockedError, match="in use by another stream"):
        stream(lake, tmp_path)


_CRASH = """
import os, signal, sys, pyarrow as pa
from trafficlake.delivery import DeliveryStream
from trafficlake.storage import Lake
s = DeliveryStream(Lake.from_url(sys.argv[1]), "miv", wal_dir=sys.argv[2], buffer_interval_s=900)
t = pa.ipc.open_file(sys.argv[3]).read_all()
for i in range(0, t.num_rows, 1000):
    s.put_events(t.slice(i, 1000))
s.put_error(b"<broken", "truncated XML")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_killed_process_is_recovered_with_a_torn_tail(
    lake: Lake, tmp_path: Path, make_record: Any
) -> None:
    table = events(make_record, 5000)
    src = tmp_path / "events.arrow"
    with pa.ipc.new_file(src, table.schema) as w:
        w.write_table(table)
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH, lake.root, str(tmp_path / "wal"), str(src)], check=False
    )
    assert proc.returncode == -9
    assert lake.list("") == []
    [segment] = list((tmp_path / "wal").glob("segment-*.wal"))
    with open(segment, "ab") as f:  # a write torn by the crash: header promises more than is there
        f.write(b"TLW1R\x00\x10\x00\x00\x00\x00\x00\x00partial")
    assert read_segment(segment).torn_bytes > 0
    with stream(lake, tmp_path) as s:
        assert s.recovered_records == 5001
    assert sorted(read_raw(lake).column("unieke_id").to_pylist()) == list(range(5000))
    assert len(lake.list("errors/")) == 1
    assert list((tmp_path / "wal").glob("segment-*.wal")) == []
    assert EVENT_SCHEMA.names == read_raw(lake).schema.names[:-1]
    assert os.path.exists(tmp_path / "wal" / "LOCK")


def test_concurrent_callers_share_the_wal(lake: Lake, tmp_path: Path, make_record: Any) -> None:
    table = events(make_record, 100)
    with stream(lake, tmp_path, buffer_size_mb=1) as s:

        def put(offset: int) -> None:
            for i in range(25):
                s.put_events(table.slice((offset + i) % 100, 1))
                s.put_record_batch([make_record(1000 + offset * 25 + i)])

        threads = [threading.Thread(target=put, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert s.stats()["records"] == 400
    assert read_raw(lake).num_rows == 400
    assert list((tmp_path / "wal").glob("segment-*.wal")) == []


def test_api_maps_a_closed_stream_to_service_unavailable(
    lake: Lake, tmp_path: Path, make_record: Any
) -> None:
    from trafficlake.aws.firehose import FirehoseOperations
    from trafficlake.aws.service import AwsError

    s = stream(lake, tmp_path)
    ops = FirehoseOperations({"miv": s})
    s.close()
    data = base64.b64encode(json.dumps(make_record(1)).encode()).decode()
    with pytest.raises(AwsError) as info:
        ops["PutRecordBatch"]({"DeliveryStreamName": "miv", "Records": [{"Data": data}]})
    assert (info.value.code, info.value.status) == ("ServiceUnavailableException", 503)
    with pytest.raises(AwsError, match="not base64"):
        ops["PutRecord"]({"DeliveryStreamName": "miv", "Record": {"Data": "!!"}})
    assert "StartDeliveryStreamEncryption" not in ops


def test_failed_delivery_keeps_acknowledged_records(
    lake: Lake, tmp_path: Path, make_record: Any
) -> None:
    from trafficlake.delivery import DeliveryUnavailableError

    blocker = Path(lake.path("raw"))
    blocker.write_text("a file where the partition folder must go")
    table = events(make_record, 20_000)
    s = stream(lake, tmp_path, buffer_interval_s=0, buffer_size_mb=1)
    assert s.put_events(table.slice(0, 10)) == 10  # acknowledged; delivery failed and is retried
    assert s.stats()["buffered_bytes"] > 0 and lake.list("raw/") == []
    s.put_events(table)  # the buffer is now past twice the size hint
    with pytest.raises(DeliveryUnavailableError, match="cannot deliver"):
        s.put_events(table.slice(0, 10))
    blocker.unlink()
    s.close()
    assert read_raw(lake).num_rows == 20_010
    assert list((tmp_path / "wal").glob("segment-*.wal")) == []


_CRASH_JSON = """
import json, os, signal, sys
from trafficlake.delivery import DeliveryStream
from trafficlake.storage import Lake
s = DeliveryStream(Lake.from_url(sys.argv[1]), "miv", wal_dir=sys.argv[2], buffer_interval_s=900)
records = json.loads(open(sys.argv[3]).read())
acked = []
for i in range(0, len(records), 500):
    reply = s.put_record_batch([json.dumps(r).encode() for r in records[i : i + 500]])
    acked.append(reply["FailedPutCount"])
print(json.dumps(acked), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_killed_process_recovers_acknowledged_json_calls(
    lake: Lake, tmp_path: Path, make_record: Any
) -> None:
    """JSON calls are logged as received and converted again on recovery: same rows, same
    quarantined records, same arrival times."""
    records = [make_record(i) for i in range(2000)]
    for bad in (7, 1234):  # one bad record in two of the calls
        records[bad]["verkeersintensiteit_klasse2"] = "many"
    src = tmp_path / "records.json"
    src.write_text(json.dumps(records))
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH_JSON, lake.root, str(tmp_path / "wal"), str(src)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -9, proc.stderr
    assert json.loads(proc.stdout) == [1, 0, 1, 0]  # every call acknowledged before the kill
    assert lake.list("") == []  # nothing had been flushed
    with stream(lake, tmp_path) as s:
        assert s.recovered_records == 2000
    landed = read_raw(lake)
    assert sorted(landed.column("unieke_id").to_pylist()) == [
        i for i in range(2000) if i not in (7, 1234)
    ]
    errors = [
        json.loads(line)
        for e in lake.list("errors/")
        for line in lake.read_bytes(e.key).decode().splitlines()
    ]
    assert len(errors) == 2 and all(
        "verkeersintensiteit_klasse2" in e["errorMessage"] for e in errors
    )
    arrivals = set(landed.column("arrival_time").to_pylist())
    assert {e["arrivalTimestamp"] for e in errors} <= arrivals  # original arrival times kept
    assert list((tmp_path / "wal").glob("segment-*.wal")) == []


def test_wal_of_another_lake_is_refused_not_delivered_there(
    lake: Lake, tmp_path: Path, make_record: Any
) -> None:
    """Two lakes sharing one WAL folder (two configs, same default wal_dir): the records lake
    A acknowledged before a kill -9 must never be recovered into lake B."""
    src = tmp_path / "records.json"
    src.write_text(json.dumps([make_record(i) for i in range(5)]))
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH_JSON, lake.root, str(tmp_path / "wal"), str(src)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -9, proc.stderr
    assert json.loads(proc.stdout) == [0]
    lake_b = Lake.from_url(str(tmp_path / "lake-b"))
    with pytest.raises(WalOwnerMismatchError) as caught:
        stream(lake_b, tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert lake.url in message and lake_b.url in message and str(tmp_path / "wal") in message
    assert lake_b.list("") == []
    assert len(list((tmp_path / "wal").glob("segment-*.wal"))) == 1  # still pending, for A
    with stream(lake, tmp_path) as s:  # the lock was released; lake A gets everything
        assert s.recovered_records == 5
    assert sorted(read_raw(lake).column("unieke_id").to_pylist()) == list(range(5))
    assert list((tmp_path / "wal").glob("segment-*.wal")) == []


def test_empty_wal_folder_may_be_reowned(lake: Lake, tmp_path: Path, make_record: Any) -> None:
    with stream(lake, tmp_path) as s:
        s.put_record(make_record(1))
    lake_b = Lake.from_url(str(tmp_path / "lake-b"))
    with stream(lake_b, tmp_path) as s:  # A's records were delivered: nothing pending
        s.put_record(make_record(2))
    assert read_raw(lake_b).column("unieke_id").to_pylist() == [2]
    owner = json.loads((tmp_path / "wal" / "OWNER.json").read_text())
    assert owner == {"lake": lake_b.url, "stream": "miv"}
