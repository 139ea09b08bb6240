"""The delivery stream landing on S3 (moto's real S3 server on loopback)."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from trafficlake.config import load_settings
from trafficlake.delivery import DeliveryStream
from trafficlake.storage import Lake

pytestmark = pytest.mark.s3


def test_stream_lands_parquet_and_errors_on_s3(
    moto_s3: str, tmp_path: Path, make_record: Any
) -> None:
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=moto_s3,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    ).create_bucket(Bucket=bucket)
    settings = load_settings(
        None,
        overrides={
            "lake": {"url": f"s3://{bucket}/lake"},
            "s3": {"endpoint_url": moto_s3, "access_key_id": "k", "secret_access_key": "s"},
            "delivery": {"wal_dir": str(tmp_path / "wal")},
        },
    )
    bad = b'{"unieke_id": "1", "tijd_waarneming": "oops"}'
    with DeliveryStream.from_settings(settings) as s:
        reply = s.put_record_batch([make_record(i) for i in range(300)] + [bad])
        assert reply["FailedPutCount"] == 1
    lake = Lake.from_settings(settings)
    keys = [e.key for e in lake.list("")]
    raw = [k for k in keys if k.startswith("raw/year=")]
    errors = [k for k in keys if k.startswith("errors/format-conversion-failed/")]
    assert len(raw) == 1 and len(errors) == 1
    with lake.fs.open_input_file(lake.path(raw[0])) as f:
        table = pq.read_table(f)
    assert sorted(table.column("unieke_id").to_pylist()) == list(range(300))
    [line] = lake.read_bytes(errors[0]).decode().splitlines()
    assert base64.b64decode(json.loads(line)["rawData"]) == bad
