"""Delivered objects: Parquet, ORC, JSON-lines or as-received files; error files; the description."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import cramjam
import numpy as np
import pyarrow as pa
import pyarrow.orc as orc
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


RECORD_COLUMN = "data"
"""The one column of a stream without format conversion: each record's bytes as received."""
_HADOOP_BLOCK = 256 * 1024


@dataclass(frozen=True)
class Output:
    """How a stream writes its objects.

    ``kind`` ``parquet`` or ``orc`` (a table, ``codec`` the column compression), or ``records``
    (the records as received, concatenated like Firehose does, ``codec`` one of its
    CompressionFormats).
    """

    kind: str
    codec: str | None
    extension: str
    options: dict[str, Any] = field(default_factory=dict)


def hadoop_snappy(data: bytes) -> bytes:
    """Hadoop's block Snappy framing: per block, BE u32 raw length, BE u32 compressed length."""
    out = bytearray()
    for start in range(0, len(data), _HADOOP_BLOCK):
        block = data[start : start + _HADOOP_BLOCK]
        packed = bytes(cramjam.snappy.compress_raw(block))
        out += len(block).to_bytes(4, "big") + len(packed).to_bytes(4, "big") + packed
    return bytes(out)


def compress_records(data: bytes, codec: str | None, member: str) -> bytes:
    """Records as Firehose writes them with ``CompressionFormat`` ``codec``."""
    if codec in (None, "UNCOMPRESSED"):
        return data
    if codec == "GZIP":
        return gzip.compress(data)
    if codec == "Snappy":
        return bytes(cramjam.snappy.compress(data))  # the framing format
    if codec == "HADOOP_SNAPPY":
        return hadoop_snappy(data)
    if codec == "ZIP":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(member, data)
        return buf.getvalue()
    raise ValueError(f"unknown compression {codec!r}")


def _concatenated(records: pa.Array) -> bytes:
    """A binary column's values back to back: one slice of its data buffer."""
    if not len(records) or records.null_count:
        return b"".join(v for v in records.to_pylist() if v is not None)
    offsets = np.frombuffer(records.buffers()[1], dtype=np.int32)
    first, last = offsets[records.offset], offsets[records.offset + len(records)]
    return records.buffers()[2].to_pybytes()[first:last]


def write_object(
    lake: Lake, folder: str, stream: str, version: int, output: Output, table: pa.Table, oldest: int
) -> str:
    """Write one delivered object atomically under ``folder``; returns its key."""
    name = object_name(stream, oldest, "", version)
    key = folder + name + output.extension
    if output.kind == "parquet":
        with lake.open_atomic(key) as out:
            pq.write_table(table, out, compression=output.codec, **output.options)
    elif output.kind == "orc":
        buf = io.BytesIO()
        orc.write_table(table, buf, compression=output.codec or "uncompressed")
        lake.put_atomic(key, buf.getvalue())
    else:
        data = _concatenated(table.column(RECORD_COLUMN).combine_chunks())
        lake.put_atomic(key, compress_records(data, output.codec, name))
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
