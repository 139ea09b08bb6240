"""`firehose serve` as a real subprocess, driven by boto3's real firehose client on loopback."""

from __future__ import annotations

import base64
import http.client
import json
import signal
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.config
import botocore.exceptions
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.delivery.prefix import Prefix
from trafficlake.storage import Lake

HOURLY = "raw/year=!{timestamp:yyyy}/month=!{timestamp:M}/day=!{timestamp:d}/hour=!{timestamp:H}/"
ERRORS = "errors/!{firehose:error-output-type}/day=!{timestamp:d}/"


def lake_files(folder: Path, prefix: str) -> list[str]:
    lake = Lake.from_url(str(folder / "lake"))
    return [lake.path(e.key) for e in lake.list(prefix)]


def read_raw(folder: Path) -> pa.Table:
    files = [f for f in lake_files(folder, "raw/") if f.endswith(".parquet")]
    return pa.concat_tables([pq.read_table(f) for f in files]) if files else pa.table({})


def batch(make_record: Any, first: int, n: int = 500) -> list[dict[str, bytes]]:
    return [{"Data": json.dumps(make_record(i)).encode()} for i in range(first, first + n)]


@pytest.mark.slow
def test_boto3_lands_10000_records_in_their_prefixes(
    server_factory: Any, firehose_client: Any, make_record: Any
) -> None:
    server = server_factory(prefix=HOURLY, error_prefix=ERRORS, buffer_size_mb=1)
    client = firehose_client(server.url)
    assert client.list_delivery_streams()["DeliveryStreamNames"] == ["miv"]
    desc = client.describe_delivery_stream(DeliveryStreamName="miv")["DeliveryStreamDescription"]
    assert desc["DeliveryStreamStatus"] == "ACTIVE"
    for first in range(0, 10_000, 500):
        reply = client.put_record_batch(DeliveryStreamName="miv", Records=batch(make_record, first))
        assert reply["FailedPutCount"] == 0
        assert len(reply["RequestResponses"]) == 500
    one = client.put_record(
        DeliveryStreamName="miv", Record={"Data": json.dumps(make_record(10_000))}
    )
    assert one["RecordId"]
    assert server.stop(signal.SIGTERM) == 0
    files = [f for f in lake_files(server.folder, "raw/") if f.endswith(".parquet")]
    assert len(files) > 1  # the 1 MB size hint cut several files
    prefix = Prefix.parse(HOURLY)
    root = str(server.folder / "lake") + "/"
    for f in files:
        arrival = pq.read_table(f, columns=["arrival_time"]).column(0)
        expected = prefix.render(min(arrival.to_pylist()))
        assert f.removeprefix(root).rsplit("/", 1)[0] + "/" == expected
    table = read_raw(server.folder)
    assert table.num_rows == 10_001
    assert sorted(table.column("unieke_id").to_pylist()) == list(range(10_001))
    rows = {r["unieke_id"]: r for r in table.to_pylist()}
    assert rows[1234]["verkeersintensiteit_klasse2"] == (1234 + 2) % 30
    assert rows[1234]["beschrijvende_id"] == "H1234L10"
    assert lake_files(server.folder, "errors/") == []


def test_put_record_batch_reply_bytes(server_factory: Any, make_record: Any) -> None:
    """The reply as sent: one JSON object, one RecordId per record in request order (one call's
    ids share a prefix, each is distinct), whether it comes from the all-success template or
    from json.dumps (a failed record)."""
    server = server_factory()
    url = urlparse(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    headers = {"X-Amz-Target": "Firehose_20150804.PutRecordBatch"}

    def put(records: list[bytes]) -> dict[str, Any]:
        datas = [{"Data": base64.b64encode(r).decode()} for r in records]
        conn.request(
            "POST", "/", json.dumps({"DeliveryStreamName": "miv", "Records": datas}), headers
        )
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200 and resp.getheader("Content-Length") == str(len(body))
        return json.loads(body)  # type: ignore[no-any-return]

    good = [json.dumps(make_record(i)).encode() for i in range(500)]
    reply = put(good)
    assert list(reply) == ["FailedPutCount", "Encrypted", "RequestResponses"]
    assert reply["FailedPutCount"] == 0 and reply["Encrypted"] is False
    ids = [r["RecordId"] for r in reply["RequestResponses"]]
    assert all(list(r) == ["RecordId"] for r in reply["RequestResponses"])
    assert len(set(ids)) == 500 and len({i[:-4] for i in ids}) == 1
    assert put(good[:1])["RequestResponses"][0]["RecordId"][:-4] != ids[0][:-4]
    mixed = put([good[0], b"{", good[1]])
    assert mixed["FailedPutCount"] == 1
    assert [sorted(r) for r in mixed["RequestResponses"]] == [
        ["RecordId"],
        ["ErrorCode", "ErrorMessage"],
        ["RecordId"],
    ]
    conn.close()
    assert server.stop() == 0
    assert read_raw(server.folder).num_rows == 503


def test_malformed_record_fails_alone_and_is_quarantined(
    server_factory: Any, firehose_client: Any, make_record: Any
) -> None:
    server = server_factory(error_prefix=ERRORS)
    client = firehose_client(server.url)
    records = batch(make_record, 0, 10)
    records[4] = {"Data": json.dumps({**make_record(4), "defect": "x"}).encode()}
    reply = client.put_record_batch(DeliveryStreamName="miv", Records=records)
    assert reply["FailedPutCount"] == 1
    assert reply["RequestResponses"][4]["ErrorCode"] == "DataFormatConversion.InvalidValue"
    assert all("RecordId" in r for i, r in enumerate(reply["RequestResponses"]) if i != 4)
    with pytest.raises(client.exceptions.InvalidArgumentException, match="malformed JSON"):
        client.put_record(DeliveryStreamName="miv", Record={"Data": b"{"})
    assert server.stop() == 0
    [err] = lake_files(server.folder, "errors/format-conversion-failed/")
    lines = [json.loads(x) for x in Path(err).read_text().splitlines()]
    assert lines[0]["errorMessage"] == "defect is not an integer: 'x'"
    assert "malformed JSON" in lines[1]["errorMessage"]
    assert read_raw(server.folder).num_rows == 9


def test_a_full_batch_with_bad_records_in_both_halves_over_boto3(
    server_factory: Any, firehose_client: Any, make_record: Any
) -> None:
    """500 records (a call read in two halves at once) with bad ones in each half: each bad
    record gets its own ErrorCode in its place, the others their RecordIds; all of them land,
    the bad ones in the error prefix with their reasons."""
    server = server_factory(error_prefix=ERRORS)
    client = firehose_client(server.url)
    records = batch(make_record, 0, 500)
    records[3] = {"Data": json.dumps({**make_record(3), "defect": "x"}).encode()}
    records[260] = {"Data": b"{"}
    records[499] = {"Data": json.dumps({**make_record(499), "geldig": "-129"}).encode()}
    reply = client.put_record_batch(DeliveryStreamName="miv", Records=records)
    assert reply["FailedPutCount"] == 3
    answers = reply["RequestResponses"]
    assert [i for i, r in enumerate(answers) if "ErrorCode" in r] == [3, 260, 499]
    assert [answers[i]["ErrorCode"] for i in (3, 260, 499)] == [
        "DataFormatConversion.InvalidValue",
        "DataFormatConversion.MalformedData",
        "DataFormatConversion.InvalidValue",
    ]
    assert len({r["RecordId"] for r in answers if "RecordId" in r}) == 497
    assert server.stop() == 0
    raw = read_raw(server.folder)
    assert sorted(raw.column("unieke_id").to_pylist()) == [
        i for i in range(500) if i not in (3, 260, 499)
    ]
    [err] = lake_files(server.folder, "errors/format-conversion-failed/")
    reasons = [json.loads(x)["errorMessage"] for x in Path(err).read_text().splitlines()]
    assert reasons[0] == "defect is not an integer: 'x'" and "malformed JSON" in reasons[1]
    assert reasons[2] == "geldig outside 0..127: '-129'"


def test_limits_and_unknown_stream(
    server_factory: Any, firehose_client: Any, make_record: Any
) -> None:
    server = server_factory()
    client = firehose_client(server.url)
    invalid = client.exceptions.InvalidArgumentException
    with pytest.raises(invalid, match="limit is 500"):
        client.put_record_batch(DeliveryStreamName="miv", Records=batch(make_record, 0, 501))
    with pytest.raises(invalid, match="1,000 KiB"):
        client.put_record(DeliveryStreamName="miv", Record={"Data": b"x" * (1000 * 1024 + 1)})
    with pytest.raises(invalid, match="4 MiB"):  # 4.3 MiB of data: ~5.7 MiB of body
        client.put_record_batch(DeliveryStreamName="miv", Records=[{"Data": b"x" * 900_000}] * 5)
    with pytest.raises(invalid, match="4 MiB"):  # refused from Content-Length alone
        client.put_record_batch(DeliveryStreamName="miv", Records=[{"Data": b"x" * 1_000_000}] * 5)
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="nope"):
        client.put_record_batch(DeliveryStreamName="nope", Records=batch(make_record, 0, 1))
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_delivery_stream(DeliveryStreamName="nope")
    # A huge declared body is refused before any of it is read.
    url = urlparse(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.putrequest("POST", "/")
    conn.putheader("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
    conn.putheader("Content-Type", "application/x-amz-json-1.1")
    conn.putheader("Content-Length", str(1 << 30))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400
    assert json.loads(resp.read())["__type"] == "InvalidArgumentException"
    conn.close()
    # The server still works afterwards.
    reply = client.put_record_batch(DeliveryStreamName="miv", Records=batch(make_record, 0, 3))
    assert reply["FailedPutCount"] == 0
    assert server.stop() == 0
    assert read_raw(server.folder).num_rows == 3


def test_token_enforcement(server_factory: Any, firehose_client: Any, make_record: Any) -> None:
    server = server_factory("--token", "s3cret")
    denied = firehose_client(server.url, access_key="wrong")
    with pytest.raises(botocore.exceptions.ClientError, match="UnrecognizedClientException"):
        denied.put_record_batch(DeliveryStreamName="miv", Records=batch(make_record, 0, 1))
    allowed = firehose_client(server.url, access_key="s3cret")
    assert (
        allowed.put_record_batch(DeliveryStreamName="miv", Records=batch(make_record, 0, 2))[
            "FailedPutCount"
        ]
        == 0
    )
    url = urlparse(server.url)
    for token, status in (("s3cret", 200), ("nope", 400)):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        conn.request(
            "POST",
            "/",
            body=b"{}",
            headers={
                "X-Amz-Target": "Firehose_20150804.ListDeliveryStreams",
                "X-Trafficlake-Token": token,
            },
        )
        assert conn.getresponse().status == status
        conn.close()
    assert server.stop() == 0
    assert read_raw(server.folder).num_rows == 2


@pytest.mark.slow
def test_kill_9_loses_no_acknowledged_record(server_factory: Any, make_record: Any) -> None:
    server = server_factory(prefix=HOURLY, buffer_size_mb=128, buffer_interval_s=900)
    no_retry = botocore.config.Config(retries={"total_max_attempts": 1}, read_timeout=10)
    client = boto3.client(
        "firehose",
        endpoint_url=server.url,
        region_name="eu-west-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=no_retry,
    )
    acked: list[int] = []
    enough = threading.Event()

    def send() -> None:
        first = 0
        while True:
            try:
                reply = client.put_record_batch(
                    DeliveryStreamName="miv", Records=batch(make_record, first, 250)
                )
            except Exception:
                return
            assert reply["FailedPutCount"] == 0
            acked.extend(range(first, first + 250))
            first += 250
            if len(acked) >= 5000:
                enough.set()

    sender = threading.Thread(target=send)
    sender.start()
    assert enough.wait(60)
    server.proc.kill()  # SIGKILL mid-stream: the sender is still sending
    server.proc.wait(10)
    sender.join(30)
    assert lake_files(server.folder, "raw/") == []  # nothing was flushed before the kill
    assert list((server.folder / ".trafficlake/wal/miv").glob("segment-*.wal"))
    restarted = server_factory()
    assert restarted.stop() == 0
    landed = set(read_raw(server.folder).column("unieke_id").to_pylist())
    assert set(acked) <= landed
    assert len(acked) >= 5000


@pytest.mark.slow
def test_create_delivery_stream_persists_across_restarts(
    server_factory: Any, firehose_client: Any, make_record: Any
) -> None:
    server = server_factory()
    client = firehose_client(server.url)
    s3 = {
        "RoleARN": "arn:aws:iam::000000000000:role/x",
        "BucketARN": "arn:aws:s3:::lake",
        "Prefix": "other/day=!{timestamp:yyyy-MM-dd}/",
        "ErrorOutputPrefix": "other-errors/!{firehose:error-output-type}/",
        "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 600},
    }
    arn = client.create_delivery_stream(
        DeliveryStreamName="second", ExtendedS3DestinationConfiguration=s3
    )["DeliveryStreamARN"]
    assert arn.endswith("deliverystream/second")
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.create_delivery_stream(
            DeliveryStreamName="second", ExtendedS3DestinationConfiguration=s3
        )
    with pytest.raises(client.exceptions.InvalidArgumentException, match="timestamp"):
        client.create_delivery_stream(
            DeliveryStreamName="third",
            ExtendedS3DestinationConfiguration={**s3, "Prefix": "x/!{timestamp:QQ}/"},
        )
    for bad_name in ("..", "a/b", "x" * 65):
        with pytest.raises(client.exceptions.InvalidArgumentException):
            client.create_delivery_stream(
                DeliveryStreamName=bad_name, ExtendedS3DestinationConfiguration=s3
            )
    assert client.list_delivery_streams()["DeliveryStreamNames"] == ["miv", "second"]
    client.put_record_batch(DeliveryStreamName="second", Records=batch(make_record, 0, 7))
    server.proc.kill()  # acknowledged but not delivered: only the WAL has them
    server.proc.wait(10)
    restarted = server_factory()
    again = firehose_client(restarted.url)
    assert again.list_delivery_streams()["DeliveryStreamNames"] == ["miv", "second"]
    hints = again.describe_delivery_stream(DeliveryStreamName="second")[
        "DeliveryStreamDescription"
    ]["Destinations"][0]["ExtendedS3DestinationDescription"]["BufferingHints"]
    assert hints == {"SizeInMBs": 5, "IntervalInSeconds": 600}
    assert restarted.stop() == 0
    files = lake_files(server.folder, "other/")
    assert len(files) == 1 and "/day=" in files[0] and "/second-1-" in files[0]
    # no format conversion: the records as received, concatenated (AWS adds no delimiter)
    sent = b"".join(r["Data"] for r in batch(make_record, 0, 7))
    assert Path(files[0]).read_bytes() == sent
