"""What the crawler learns from one file: Hive column types, row count and min/max statistics.

Parquet files are inspected through their footer only (schema, row counts; the min/max
statistics as :mod:`trafficlake.footer_stats` reads them); a raw file with integer
``tijd_waarneming`` and ``actueel_publicatie`` (when ``tijd_waarneming`` is a statistics
column) also has those two columns read, for the event-time range of its current rows apart
from its stale republishes (:func:`trafficlake.schema.event_time_split`). JSON-lines
files are parsed line by line and their types inferred from a sample of rows.
"""

from __future__ import annotations

import contextlib
import gzip
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from trafficlake.catalog.base import CatalogError, Column
from trafficlake.footer_stats import footer_minmax
from trafficlake.schema import EVENT_TIME_COLUMN, STALE_FLAG_COLUMN, event_time_split
from trafficlake.storage import FileEntry, Lake

JSON_SAMPLE_ROWS = 1000
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")


class CrawlDataError(CatalogError):
    """The data under a crawler target cannot be catalogued as it is (the crawl fails)."""


class CorruptFileError(CrawlDataError):
    """A file that cannot be read as its format."""


@dataclass
class FileInfo:
    key: str
    size: int
    format: str
    """parquet | json"""
    columns: list[Column]
    row_count: int | None
    stats: dict[str, tuple[Any, Any]] = field(default_factory=dict)


# ---- types ----------------------------------------------------------------------------------

_NUMERIC_RANK = {"tinyint": 1, "smallint": 2, "int": 3, "bigint": 4, "float": 5, "double": 6}


def hive_type(t: pa.DataType) -> str:
    """The Hive type name of an Arrow type."""
    if pa.types.is_dictionary(t):
        return hive_type(t.value_type)
    simple = {
        pa.int8(): "tinyint", pa.int16(): "smallint", pa.int32(): "int", pa.int64(): "bigint",
        pa.uint8(): "smallint", pa.uint16(): "int", pa.uint32(): "bigint", pa.uint64(): "bigint",
        pa.float16(): "float", pa.float32(): "float", pa.float64(): "double",
        pa.bool_(): "boolean", pa.string(): "string", pa.large_string(): "string",
        pa.binary(): "binary", pa.large_binary(): "binary", pa.date32(): "date",
        pa.date64(): "date", pa.null(): "void",
    }  # fmt: skip
    if t in simple:
        return simple[t]
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{hive_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{hive_type(t.key_type)},{hive_type(t.item_type)}>"
    if pa.types.is_struct(t):
        inner = ",".join(
            f"{t.field(i).name}:{hive_type(t.field(i).type)}" for i in range(t.num_fields)
        )
        return f"struct<{inner}>"
    return "string" if pa.types.is_string(t) else str(t)


def hive_columns(schema: pa.Schema) -> tuple[tuple[str, str], ...]:
    """(name, Hive type) of each field of ``schema``."""
    return tuple((f.name, hive_type(f.type)) for f in schema)


def widen(a: str, b: str) -> str | None:
    """The narrowest type holding both ``a`` and ``b`` (int8/16 -> int32 -> int64 -> double),
    or None when they are incompatible (e.g. string vs bigint)."""
    if a == b:
        return a
    if a == "void":
        return b
    if b == "void":
        return a
    if a in _NUMERIC_RANK and b in _NUMERIC_RANK:
        ra, rb = _NUMERIC_RANK[a], _NUMERIC_RANK[b]
        if ra <= 4 and rb <= 4:
            return a if ra > rb else b
        return "double"
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "void"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    return "string"


# ---- statistics -----------------------------------------------------------------------------


def merge_stats(
    a: dict[str, tuple[Any, Any]], b: dict[str, tuple[Any, Any]]
) -> dict[str, tuple[Any, Any]]:
    """Min/max over both (columns present in only one side keep that side's range)."""
    out = dict(a)
    for col, (lo, hi) in b.items():
        if col not in out:
            out[col] = (lo, hi)
            continue
        olo, ohi = out[col]
        with contextlib.suppress(TypeError):  # mixed kinds: keep the first
            out[col] = (
                lo if olo is None else olo if lo is None else min(olo, lo),
                hi if ohi is None else ohi if hi is None else max(ohi, hi),
            )
    return out


# ---- files ----------------------------------------------------------------------------------


def file_format(key: str, head: bytes | None = None) -> str | None:
    """parquet | json by suffix (or by the first bytes when given), None if neither."""
    low = key.lower()
    if low.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if low.endswith(JSON_SUFFIXES):
        return "json"
    if head is not None:
        if head.startswith(b"PAR1"):
            return "parquet"
        if head.lstrip().startswith(b"{"):
            return "json"
    return None


def inspect_parquet(lake: Lake, entry: FileEntry, stats_columns: list[str]) -> FileInfo:
    """Schema, row count and stats of a Parquet file from its footer."""
    try:
        with lake.fs.open_input_file(lake.path(entry.key)) as f:
            pf = pq.ParquetFile(f)
            schema = pf.schema_arrow
            stats = footer_minmax(pf, stats_columns)
            rows = pf.metadata.num_rows
            if EVENT_TIME_COLUMN in stats_columns and _splittable(schema):
                split_columns = [EVENT_TIME_COLUMN, STALE_FLAG_COLUMN]
                stats.update(event_time_split(pf.read(columns=split_columns)))
    except FileNotFoundError:
        raise CrawlDataError(f"file {entry.key} vanished during the crawl; crawl again") from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptFileError(f"cannot read Parquet file {entry.key}: {exc}") from None
    columns = [Column(f.name, hive_type(f.type)) for f in schema]
    return FileInfo(entry.key, entry.size, "parquet", columns, rows, stats)


def _splittable(schema: pa.Schema) -> bool:
    """Whether a file's event times can be split into current and stale rows (both columns
    integers, as the delivery stream writes them)."""
    names = schema.names
    return all(
        c in names and pa.types.is_integer(schema.field(c).type)
        for c in (EVENT_TIME_COLUMN, STALE_FLAG_COLUMN)
    )


def inspect_json(lake: Lake, entry: FileEntry, stats_columns: list[str]) -> FileInfo:
    """Types from the first rows of a JSON-lines file (gzipped if ``.gz``); row count and
    stats from every row."""
    data = lake.read_bytes(entry.key)
    if entry.key.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise CorruptFileError(f"cannot read JSON file {entry.key}: {exc}") from None
    types: dict[str, str] = {}
    stats: dict[str, tuple[Any, Any]] = {}
    rows = 0
    for lineno, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise CorruptFileError(
                f"cannot read JSON file {entry.key}: line {lineno}: {exc}"
            ) from None
        if not isinstance(record, dict):
            raise CorruptFileError(
                f"cannot read JSON file {entry.key}: line {lineno} is not an object"
            )
        rows += 1
        if rows <= JSON_SAMPLE_ROWS:
            for name, value in record.items():
                t = _json_type(value)
                merged = widen(types.get(name, "void"), t)
                types[name] = merged if merged is not None else "string"
        for col in stats_columns:
            v = record.get(col)
            if isinstance(v, (int, float, str)) and not isinstance(v, bool):
                stats = merge_stats(stats, {col: (v, v)})
    columns = [Column(n, "string" if t == "void" else t) for n, t in types.items()]
    return FileInfo(entry.key, entry.size, "json", columns, rows, stats)


def inspect_file(lake: Lake, entry: FileEntry, fmt: str, stats_columns: list[str]) -> FileInfo:
    if fmt == "parquet":
        return inspect_parquet(lake, entry, stats_columns)
    return inspect_json(lake, entry, stats_columns)
