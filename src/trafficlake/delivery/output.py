"""Delivered objects: Parquet or JSON-lines raw files, JSON-lines error files, the description."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from trafficlake.delivery.prefix import object_name
from trafficlake.storage import Lake


def write_raw(
    lake: Lake,
    folder: str,
    stream: str,
    version: int,
    fmt: str,
    compression: str,
    table: pa.Table,
    oldest_ms: int,
) -> str:
    """Write one raw file atomically under ``folder``; returns its key."""
    if fmt == "parquet":
        key = folder + object_name(stream, oldest_ms, ".parquet", version)
        codec = None if compression == "uncompressed" else compression
        with lake.open_atomic(key) as out:
            pq.write_table(table, out, compression=codec)
        return key
    suffix = ".json.gz" if compression == "gzip" else ".json"
    key = folder + object_name(stream, oldest_ms, suffix, version)
    lines = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in table.to_pylist())
    data = lines.encode()
    lake.put_atomic(key, gzip.compress(data) if suffix.endswith(".gz") else data)
    return key


def write_errors(
    lake: Lake, folder: str, stream: str, version: int, recs: list[dict[str, Any]], oldest: int
) -> str:
    """Write Firehose error records as JSON lines atomically under ``folder``."""
    key = folder + object_name(stream, oldest, ".json", version)
    body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in recs)
    lake.put_atomic(key, body.encode())
    return key


def describe_stream(
    name: str,
    version: int,
    lake_url: str,
    prefix: str,
    error_prefix: str,
    buffer_size_bytes: int,
    buffer_interval_s: float,
    fmt: str,
    compression: str,
    created: float,
    *,
    active: bool,
) -> dict[str, Any]:
    """A DeliveryStreamDescription shaped like the AWS API's."""
    codec = {"zstd": "ZSTD", "snappy": "SNAPPY", "gzip": "GZIP"}.get(compression, "UNCOMPRESSED")
    s3 = {
        "RoleARN": "arn:aws:iam::000000000000:role/trafficlake",
        "BucketARN": f"arn:aws:s3:::{lake_url}",
        "Prefix": prefix,
        "ErrorOutputPrefix": error_prefix,
        "BufferingHints": {
            "SizeInMBs": buffer_size_bytes // (1024 * 1024),
            "IntervalInSeconds": int(buffer_interval_s),
        },
        "CompressionFormat": "UNCOMPRESSED" if fmt == "parquet" else codec,
        "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
        "DataFormatConversionConfiguration": {"Enabled": fmt == "parquet"},
    }
    return {
        "DeliveryStreamName": name,
        "DeliveryStreamARN": f"arn:aws:firehose:local:000000000000:deliverystream/{name}",
        "DeliveryStreamStatus": "ACTIVE" if active else "DELETING",
        "DeliveryStreamType": "DirectPut",
        "VersionId": str(version),
        "CreateTimestamp": created,
        "Destinations": [
            {"DestinationId": "destinationId-000000000001", "ExtendedS3DestinationDescription": s3}
        ],
        "HasMoreDestinations": False,
    }
