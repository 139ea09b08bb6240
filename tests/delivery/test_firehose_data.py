"""PutRecordBatch's ``Data`` decoding: the batch path takes exactly what base64 does, bytes equal."""

from __future__ import annotations

import base64
import binascii
import json
import random
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from trafficlake.aws.firehose import FirehoseOperations, _decode_all
from trafficlake.aws.service import AwsError, EncodedReply
from trafficlake.delivery import DeliveryStream
from trafficlake.storage import Lake

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ODD = ["=", "==", "===", "\n", " ", "-", "_", "é", "\x00"]


def one_by_one(records: list[Any]) -> list[bytes] | None:
    """The rule the endpoint has always applied: ``b64decode(validate=True)`` per record."""
    try:
        return [base64.b64decode(r["Data"], validate=True) for r in records]
    except (binascii.Error, ValueError):
        return None


def test_batch_decoding_agrees_with_base64_on_random_and_odd_texts() -> None:
    rng = random.Random(5)
    taken = 0
    for _ in range(3000):
        records = []
        for _ in range(rng.randint(1, 4)):
            text = base64.b64encode(rng.randbytes(rng.randint(0, 10))).decode()
            if rng.random() < 0.3:  # a stray, missing or extra character anywhere
                i = rng.randint(0, len(text))
                cut = rng.randint(0, 1)
                text = text[:i] + rng.choice(ODD + list(ALPHABET)) + text[i + cut :]
            records.append({"Data": text})
        fast = _decode_all(records)
        if fast is not None:  # None: the caller goes record by record (the same rule)
            taken += 1
            assert fast == one_by_one(records), records
    assert taken > 1500  # the batch path is the common one


def test_batch_decoding_declines_what_is_not_a_data_text() -> None:
    assert _decode_all([{"Data": "eHh4"}, {"Data": 5}]) is None
    assert _decode_all([{"Data": "eHh4"}, ["Data"]]) is None
    assert _decode_all([{"Data": "eHh4"}, {"Other": "eHh4"}]) is None
    assert _decode_all([{"Data": "eHh4"}, {"Data": "eHh"}]) is None  # not base64: record path
    assert _decode_all([{"Data": "eHh4", "Extra": 1}]) == [b"xxx"]


def ops_on(tmp_path: Path) -> tuple[FirehoseOperations, DeliveryStream]:
    s = DeliveryStream(
        Lake.from_url(str(tmp_path / "lake")), "miv", wal_dir=tmp_path / "wal", prefix="raw/"
    )
    return FirehoseOperations({"miv": s}), s


def test_put_record_batch_lands_the_decoded_records(tmp_path: Path, make_record: Any) -> None:
    ops, s = ops_on(tmp_path)
    texts = [base64.b64encode(json.dumps(make_record(i)).encode()).decode() for i in range(6)]
    unpadded = next(i for i, t in enumerate(texts) if not t.endswith("="))
    texts[unpadded] += "="  # padding after a complete quad: base64 lets it through, so do we
    reply = ops["PutRecordBatch"](
        {"DeliveryStreamName": "miv", "Records": [{"Data": t} for t in texts]}
    )
    assert reply["FailedPutCount"] == 0 and len(reply["RequestResponses"]) == 6
    s.close()
    files = [e.key for e in Lake.from_url(str(tmp_path / "lake")).list("raw/")]
    table = pq.read_table(tmp_path / "lake" / files[0])
    assert table.column("unieke_id").to_pylist() == list(range(6))


def test_an_all_success_reply_carries_its_json(tmp_path: Path, make_record: Any) -> None:
    """The reply the server sends as it is (built from a template) is the reply's own JSON;
    a reply with a failed record is left to json.dumps."""
    ops, s = ops_on(tmp_path)
    texts = [base64.b64encode(json.dumps(make_record(i)).encode()).decode() for i in range(500)]
    reply = ops["PutRecordBatch"](
        {"DeliveryStreamName": "miv", "Records": [{"Data": t} for t in texts]}
    )
    assert isinstance(reply, EncodedReply)
    assert json.loads(reply.encoded) == reply and len(reply["RequestResponses"]) == 500
    bad = base64.b64encode(b"{").decode()
    mixed = ops["PutRecordBatch"]({"DeliveryStreamName": "miv", "Records": [{"Data": bad}]})
    assert mixed["FailedPutCount"] == 1 and not isinstance(mixed, EncodedReply)
    s.close()


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({"Data": "eHh4-A=="}, "SerializationException"),
        ({"Data": "eHh4\neHh4"}, "SerializationException"),
        ({"Data": "eHh"}, "SerializationException"),
        ({"Data": 7}, "InvalidArgumentException"),
        ("eHh4", "InvalidArgumentException"),
    ],
)
def test_a_bad_data_field_fails_the_call_naming_the_record(
    tmp_path: Path, make_record: Any, record: Any, code: str
) -> None:
    ops, s = ops_on(tmp_path)
    good = {"Data": base64.b64encode(json.dumps(make_record(0)).encode()).decode()}
    with pytest.raises(AwsError) as err:
        ops["PutRecordBatch"]({"DeliveryStreamName": "miv", "Records": [good, record]})
    assert err.value.code == code and "Records[1]" in err.value.message
    s.close()
