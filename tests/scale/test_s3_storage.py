"""The lake on S3: ``trafficlake.storage.Lake`` through pyarrow's S3FileSystem on moto."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.config import Settings
from trafficlake.errors import StorageError
from trafficlake.storage import Lake

pytestmark = pytest.mark.s3


def test_put_read_list_delete(s3_settings: Settings, s3_server, s3_bucket: str) -> None:
    lake = Lake.from_settings(s3_settings)
    assert not lake.is_local
    assert lake.uri("raw/a.parquet") == f"s3://{s3_bucket}/lake/raw/a.parquet"
    lake.put_atomic("raw/year=2026/month=11/day=21/hour=7/a.parquet", b"one")
    lake.put_atomic("raw/year=2026/month=11/day=21/hour=8/b.parquet", b"two!")
    lake.put_atomic("raw/year=2026/month=11/day=22/hour=0/c.parquet", b"three")
    lake.put_atomic("raw/_SUCCESS", b"")

    # The objects are really in the bucket, under the lake prefix (checked with boto3).
    listed = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix="lake/")
    keys = sorted(o["Key"] for o in listed["Contents"])
    assert "lake/raw/year=2026/month=11/day=21/hour=7/a.parquet" in keys

    files = lake.list("raw")
    assert [f.key for f in files] == [
        "raw/year=2026/month=11/day=21/hour=7/a.parquet",
        "raw/year=2026/month=11/day=21/hour=8/b.parquet",
        "raw/year=2026/month=11/day=22/hour=0/c.parquet",
    ]
    assert [f.size for f in files] == [3, 4, 5]
    assert lake.list_dirs("raw/year=2026/month=11") == [
        "raw/year=2026/month=11/day=21",
        "raw/year=2026/month=11/day=22",
    ]
    assert lake.list("nothing/here") == []
    assert lake.list_dirs("nothing") == []
    assert lake.read_bytes("raw/year=2026/month=11/day=21/hour=8/b.parquet") == b"two!"
    assert lake.exists("raw/year=2026/month=11/day=21/hour=8/b.parquet")

    lake.delete("raw/year=2026/month=11/day=21/hour=8/b.parquet")
    assert not lake.exists("raw/year=2026/month=11/day=21/hour=8/b.parquet")
    lake.delete("raw/does-not-exist.parquet")  # deleting a missing key is not an error
    with pytest.raises(StorageError, match="no such file"):
        lake.read_bytes("raw/year=2026/month=11/day=21/hour=8/b.parquet")

    lake.delete_prefix("raw/year=2026/month=11/day=22")
    assert [f.key for f in lake.list("raw")] == ["raw/year=2026/month=11/day=21/hour=7/a.parquet"]


def test_open_atomic_parquet_roundtrip(s3_settings: Settings) -> None:
    lake = Lake.from_settings(s3_settings)
    table = pa.table({"x": pa.array(range(1000), pa.int64())})
    with lake.open_atomic("transformed/year=2026/month=1/day=1/hour=0/part.parquet") as out:
        pq.write_table(table, out)
    back = pq.read_table(io.BytesIO(lake.read_bytes(lake.list("transformed")[0].key)))
    assert back.equals(table)
    # Through the filesystem directly, as DuckDB/pyarrow datasets would read it.
    ds = pq.read_table(lake.path("transformed"), filesystem=lake.fs)
    assert ds.num_rows == 1000


def test_open_atomic_failure_leaves_nothing(s3_settings: Settings) -> None:
    lake = Lake.from_settings(s3_settings)
    with pytest.raises(RuntimeError), lake.open_atomic("raw/broken.parquet") as out:
        out.write(b"partial")
        raise RuntimeError("writer died")
    assert not lake.exists("raw/broken.parquet")


def test_move_copies_on_s3(s3_settings: Settings) -> None:
    lake = Lake.from_settings(s3_settings)
    lake.put_atomic("staging/run1/a.parquet", b"payload")
    lake.move("staging/run1/a.parquet", "transformed/a.parquet")
    assert lake.read_bytes("transformed/a.parquet") == b"payload"
    assert not lake.exists("staging/run1/a.parquet")


def test_missing_bucket_name_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="names no bucket"):
        Lake.from_url("s3://")
