"""Record conversion: JSON records (the original pipeline's all-string events) → RAW_SCHEMA rows.

The conversion is column-wise: values of one field across the whole batch become one Arrow
array and are cast and range-checked with Arrow kernels. Only a column that fails the fast
path is converted value by value, to find which records are at fault. A record with any bad
value fails alone and is returned as a :class:`RecordError` (the stream quarantines it).

Rules (the feed parser's, from the same place: :func:`trafficlake.schema.value_bounds`):
``unieke_id`` and ``tijd_waarneming`` are required; other fields may be absent, ``null`` or ``""``
(all meaning null); numbers are JSON integers or decimal integer strings (no fraction, no
exponent, no booleans); counts >= 0, speeds 0..254, flags 0..127, other numbers int32;
``tijd_*`` are epoch seconds, or ISO-8601 times with an offset as the feed writes them
(``2017-04-27T14:39:14+01:00``, converted to epoch seconds), in [2000-01-01, now + 1 day]
(now = the later of the wall clock and the call's arrival time); unknown keys (including ``arrival_time``, which the stream sets) are
errors. Bounds are checked on whole columns with Arrow kernels; only offending rows are marked.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from trafficlake.schema import (
    EVENT_SCHEMA,
    FUTURE_SLACK_S,
    INTEGER_TEXT,
    RAW_SCHEMA,
    REQUIRED_COLUMNS,
    bounds_reason,
    value_bounds,
)

MALFORMED = "DataFormatConversion.MalformedData"
INVALID_SCHEMA = "DataFormatConversion.InvalidSchema"
INVALID_VALUE = "DataFormatConversion.InvalidValue"

_FIELDS = {f.name: f.type for f in EVENT_SCHEMA}
_KNOWN = frozenset(_FIELDS)
_REQUIRED = frozenset(REQUIRED_COLUMNS)
_STRING_COLUMNS = [i for i, f in enumerate(EVENT_SCHEMA) if pa.types.is_string(f.type)]
_NULL_STRING = pa.scalar(None, pa.string())
_INTEGER = re.compile(INTEGER_TEXT)
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
_TYPE_RANGES = {pa.int8(): (-(2**7), 2**7 - 1), pa.int32(): (-(2**31), 2**31 - 1)}
_NARROWED = [
    (i, f.name)
    for i, f in enumerate(EVENT_SCHEMA)
    if f.name.startswith("tijd_")
    or (f.type in _TYPE_RANGES and value_bounds(f.name, 0) != _TYPE_RANGES[f.type])
]
"""Columns whose bounds are narrower than their Arrow type (the cast alone does not check)."""
_INTEGER_TYPES = [
    (i, f.type, np.dtype(f.type.to_pandas_dtype()))
    for i, f in enumerate(EVENT_SCHEMA)
    if pa.types.is_integer(f.type)
]
_INTEGER_COLUMNS = [i for i, _, _ in _INTEGER_TYPES]
_TYPE_LOW = np.array([[np.iinfo(d).min] for _, _, d in _INTEGER_TYPES])
_TYPE_HIGH = np.array([[np.iinfo(d).max] for _, _, d in _INTEGER_TYPES])
_BOUND_LOW = np.array([[value_bounds(EVENT_SCHEMA.field(i).name, 0)[0]] for i in _INTEGER_COLUMNS])
_BOUND_HIGH = np.array([[value_bounds(EVENT_SCHEMA.field(i).name, 0)[1]] for i in _INTEGER_COLUMNS])
_TIME_ROWS = [
    k for k, i in enumerate(_INTEGER_COLUMNS) if EVENT_SCHEMA.field(i).name.startswith("tijd_")
]
"""The integer columns (their types, numpy types, type ranges and bounds, one row each;
the timestamps' upper bound is a call's ``latest``), for :func:`_cast_integer_strings`."""
_BLOCK_TYPES = (pa.string(), pa.int64(), pa.null())
"""Column types the block path takes from Arrow's JSON reader (floats, booleans: per record)."""


@dataclass(frozen=True)
class RecordError:
    """One record that could not be converted: its position in the call, code and reason."""

    index: int
    code: str
    message: str
    output_type: str = "format-conversion-failed"
    """The ``!{firehose:error-output-type}`` its error record goes under."""
    data: bytes | None = None
    """The bytes that failed when they are not the record as received (a Lambda's output)."""


def latest_timestamp(arrival_ms: int) -> int:
    """The latest acceptable ``tijd_*`` for a call: now (or its arrival, if later) + 1 day."""
    return max(int(time.time()), arrival_ms // 1000) + FUTURE_SLACK_S


def _shown(value: Any) -> str:
    return repr(value[:40]) if isinstance(value, str) else json.dumps(value)[:40]


def _convert_one(name: str, value: Any, latest: int) -> int | str | None:
    """Convert one value (the slow path); raises ValueError with a reason."""
    typ = _FIELDS[name]
    if value is None or value == "":
        return None
    if pa.types.is_string(typ):
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected a string, got {_shown(value)}")
        return value
    if isinstance(value, str) and _INTEGER.match(value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and name.startswith("tijd_") and _ISO_TIME.match(value):
        number = int(datetime.fromisoformat(value).timestamp())
    else:
        raise ValueError(f"{name} is not an integer: {_shown(value)}")
    lo, hi = value_bounds(name, latest)
    if not lo <= number <= hi:
        raise ValueError(f"{name} {bounds_reason(name, lo, hi)}: {_shown(value)}")
    return number


def _mark_out_of_bounds(
    name: str, ints: pa.Array, shown: list[Any] | pa.Array, bad: dict[int, str], latest: int
) -> pa.Array:
    """Null the values outside the column's bounds and record their rows' reasons in ``bad``.

    One ``min_max`` over the column; only when it is out of bounds are the rows located.
    """
    lo, hi = value_bounds(name, latest)
    mn, mx = pc.min_max(ints).values()
    if not mn.is_valid or (lo <= mn.as_py() and mx.as_py() <= hi):
        return ints
    outside = pc.fill_null(pc.or_(pc.less(ints, lo), pc.greater(ints, hi)), False)
    what = bounds_reason(name, lo, hi)
    for j in pc.indices_nonzero(outside).to_pylist():
        value = shown[j].as_py() if isinstance(shown, pa.Array) else shown[j]
        bad.setdefault(j, f"{name} {what}: {_shown(value)}")
    return pc.if_else(outside, pa.scalar(None, ints.type), ints)


def _fast_column(
    name: str, values: list[Any] | pa.Array, bad: dict[int, str], latest: int
) -> pa.Array:
    """Vectorised conversion of one column; raises if any value needs the slow path.

    Values that are integers but out of bounds do not: their rows are marked in ``bad``.
    """
    typ = _FIELDS[name]
    arr = values if isinstance(values, pa.Array) else pa.array(values)
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), typ)
    if pa.types.is_string(typ):
        if not pa.types.is_string(arr.type):
            raise ValueError("not strings")
        return pc.if_else(pc.equal(arr, ""), _NULL_STRING, arr)
    if pa.types.is_string(arr.type):
        arr = pc.if_else(pc.equal(arr, ""), _NULL_STRING, arr)
        try:
            ints = pc.cast(arr, pa.int64())  # raises ArrowInvalid on a non-integer string
        except pa.ArrowInvalid:
            if not name.startswith("tijd_"):
                raise
            # the feed's own form: ISO-8601 with an offset (raises unless every value is)
            times = pc.strptime(arr, format=_ISO_FORMAT, unit="s")
            ints = pc.cast(times, pa.int64())
    elif pa.types.is_integer(arr.type):
        ints = pc.cast(arr, pa.int64())  # raises on a uint64 beyond int64
    else:
        raise ValueError("not integers")  # floats, booleans: found value by value
    return pc.cast(_mark_out_of_bounds(name, ints, values, bad, latest), typ)


def _convert_column(
    name: str, values: list[Any] | pa.Array, bad: dict[int, str], latest: int
) -> pa.Array:
    """Fast path, else value by value (recording the first bad value of each row in ``bad``)."""
    try:
        return _fast_column(name, values, bad, latest)
    except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    converted: list[Any] = []
    for j, v in enumerate(values.to_pylist() if isinstance(values, pa.Array) else values):
        try:
            converted.append(_convert_one(name, v, latest))
        except ValueError as exc:
            bad.setdefault(j, str(exc))
            converted.append(None)
    return pa.array(converted, _FIELDS[name])


def _assemble(arrays: list[pa.Array], n: int, arrival_ms: int, drop: list[int]) -> pa.RecordBatch:
    """The kept rows as a RAW_SCHEMA batch (dropped first: their required values may be null)."""
    if drop:
        keep = np.ones(n, dtype=bool)
        keep[drop] = False
        mask = pa.array(keep)
        arrays = [pc.filter(a, mask) for a in arrays]
        n = int(keep.sum())
    return pa.RecordBatch.from_arrays(
        [*arrays, pa.array(np.full(n, arrival_ms, dtype=np.int64))], schema=RAW_SCHEMA
    )


def convert_objects(
    objects: list[Any], arrival_ms: int
) -> tuple[pa.RecordBatch, list[RecordError]]:
    """Convert parsed JSON values to a RAW_SCHEMA batch; bad records come back as errors.

    ``objects[i]`` may be a dict or anything else (which is an error). Error indexes refer to
    positions in ``objects``; the batch holds the good records in their original order.
    """
    n = len(objects)
    latest = latest_timestamp(arrival_ms)
    errors: dict[int, RecordError] = {}
    for i, obj in enumerate(objects):
        if isinstance(obj, Unparseable):
            errors[i] = RecordError(i, MALFORMED, f"malformed JSON: {obj.reason}")
            continue
        if not isinstance(obj, dict):
            errors[i] = RecordError(i, MALFORMED, "record is not a JSON object")
            continue
        if not _KNOWN.issuperset(obj):
            unknown = sorted(k for k in obj if k not in _KNOWN)
            errors[i] = RecordError(i, INVALID_SCHEMA, f"unknown field(s): {', '.join(unknown)}")
            continue
        missing = [k for k in REQUIRED_COLUMNS if obj.get(k) in (None, "")]
        if missing:
            errors[i] = RecordError(
                i, INVALID_SCHEMA, f"missing required field(s): {', '.join(missing)}"
            )
    rows = [i for i in range(n) if i not in errors] if errors else list(range(n))
    good = [objects[i] for i in rows]
    bad_rows: dict[int, str] = {}  # position within ``good`` → reason
    arrays = [
        _convert_column(f.name, [o.get(f.name) for o in good], bad_rows, latest)
        for f in EVENT_SCHEMA
    ]
    for j, reason in bad_rows.items():
        errors[rows[j]] = RecordError(rows[j], INVALID_VALUE, reason)
    batch = _assemble(arrays, len(good), arrival_ms, list(bad_rows))
    return batch, sorted(errors.values(), key=lambda e: e.index)


def _cast_integer_strings(batch: pa.RecordBatch, latest: int) -> tuple[list[pa.Array], bool] | None:
    """The batch's columns with its integer columns cast from text in one Arrow call and
    checked against their bounds in one numpy pass: (columns, every value within its
    bounds). None unless every integer column is text without nulls (the wire's all-string
    records) that parses and fits its column's type: then the per-column cast decides, as
    it refuses such values in the same cases."""
    columns = [batch.column(i) for i in _INTEGER_COLUMNS]
    if any(c.type != pa.string() or c.null_count for c in columns):
        return None
    try:
        flat = pc.cast(pa.concat_arrays(columns), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    values = flat.to_numpy().reshape(len(columns), batch.num_rows)
    if (values < _TYPE_LOW).any() or (values > _TYPE_HIGH).any():
        return None
    high = _BOUND_HIGH.copy()
    high[_TIME_ROWS] = latest
    within = not ((values < _BOUND_LOW).any() or (values > high).any())
    arrays = batch.columns
    for k, (i, typ, dtype) in enumerate(_INTEGER_TYPES):
        arrays[i] = pa.array(values[k].astype(dtype), typ)
    return arrays, within


def _cast_whole(
    table: pa.Table, arrival_ms: int, latest: int
) -> tuple[pa.RecordBatch, list[RecordError]] | None:
    """One Arrow cast of a complete table of integers; None if any value needs a closer look.

    Values out of bounds do not: the bounds are checked on whole columns (one numpy pass over
    all-string columns, else one ``min_max`` per bounded column), and only when a value is
    out are the offending rows located and dropped (returned as errors).
    """
    if len(table.column_names) != len(EVENT_SCHEMA) or table.num_rows == 0:
        return None
    batches = table.select(EVENT_SCHEMA.names).combine_chunks().to_batches()
    if len(batches) != 1:
        return None
    cast = _cast_integer_strings(batches[0], latest)
    if cast is not None:
        arrays, within_bounds = cast
    else:
        try:
            typed = batches[0].cast(EVENT_SCHEMA)  # checks int8/int32 overflow
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError, ValueError):
            return None
        for name in REQUIRED_COLUMNS:
            if typed.column(name).null_count:
                return None
        arrays, within_bounds = typed.columns, False
    bad: dict[int, str] = {}
    if not within_bounds:
        for i, name in _NARROWED:
            _mark_out_of_bounds(name, arrays[i], batches[0].column(i), bad, latest)
    for i in _STRING_COLUMNS:
        arrays[i] = pc.if_else(pc.equal(arrays[i], ""), _NULL_STRING, arrays[i])
    errors = [RecordError(j, INVALID_VALUE, reason) for j, reason in sorted(bad.items())]
    return _assemble(arrays, table.num_rows, arrival_ms, sorted(bad)), errors


def convert_table(table: pa.Table, arrival_ms: int) -> tuple[pa.RecordBatch, list[RecordError]]:
    """Convert a table of known columns (strings or numbers, as read from JSON lines)."""
    latest = latest_timestamp(arrival_ms)
    fast = _cast_whole(table, arrival_ms, latest)
    if fast is not None:
        return fast
    n = table.num_rows
    reasons: dict[int, RecordError] = {}
    missing_by_row: dict[int, list[str]] = {}
    for name in REQUIRED_COLUMNS:
        if name not in table.column_names:
            for i in range(n):
                missing_by_row.setdefault(i, []).append(name)
            continue
        col = table.column(name)
        mask = pc.is_null(col)
        if pa.types.is_string(col.type):
            mask = pc.or_(mask, pc.fill_null(pc.equal(col, ""), False))
        for i in np.flatnonzero(mask.to_numpy(zero_copy_only=False)).tolist():
            missing_by_row.setdefault(i, []).append(name)
    for i, names in missing_by_row.items():
        reasons[i] = RecordError(
            i, INVALID_SCHEMA, f"missing required field(s): {', '.join(names)}"
        )
    bad_rows: dict[int, str] = {}
    arrays = []
    for f in EVENT_SCHEMA:
        if f.name in table.column_names:
            values = table.column(f.name).combine_chunks()
            arrays.append(_convert_column(f.name, values, bad_rows, latest))
        else:
            arrays.append(pa.nulls(n, f.type))
    for j, reason in bad_rows.items():
        reasons.setdefault(j, RecordError(j, INVALID_VALUE, reason))
    batch = _assemble(arrays, n, arrival_ms, sorted(reasons))
    return batch, sorted(reasons.values(), key=lambda e: e.index)


_ALL_STRINGS = pa.schema([pa.field(name, pa.string()) for name in EVENT_SCHEMA.names])
_PARSE_OPTIONS = (
    pa_json.ParseOptions(explicit_schema=_ALL_STRINGS, unexpected_field_behavior="error"),
    pa_json.ParseOptions(unexpected_field_behavior="infer"),
)
_READ_OPTIONS: dict[int, pa_json.ReadOptions] = {}
SPLIT_BYTES = 128 * 1024
"""A block this large is read in two halves at once (below, the hand-off costs more)."""
READER_THREADS = 2
"""Threads reading second halves (shared by every stream of the process)."""


def _read_options(size: int) -> pa_json.ReadOptions:
    """Cached options whose block holds ``size`` bytes (one block: records never split)."""
    block = 1 << max(20, size.bit_length())
    opts = _READ_OPTIONS.get(block)
    if opts is None:
        opts = _READ_OPTIONS[block] = pa_json.ReadOptions(use_threads=False, block_size=block)
    return opts


def join_records(raw: list[bytes]) -> bytes:
    """The records each followed by a newline, as one buffer (what the JSON reader parses)."""
    return b"\n".join([*raw, b""])


def join_lines_or_none(raw: list[bytes], joined: bytes | None = None) -> bytes | None:
    """The records as JSON lines, or None unless each is one single-line ``{...}`` text.

    The common case is checked with C-level ``map`` calls (no per-record Python loop); a
    record with surrounding whitespace takes the per-record check, which strips first.
    ``joined`` is :func:`join_records` of ``raw`` when the caller already has it.
    """
    if (
        raw
        and all(map(bytes.startswith, raw, repeat(b"{")))
        and (max(map(bytes.find, raw, repeat(b"\n"))) < 0)
    ):
        return joined if joined is not None else join_records(raw)
    lines = [r.strip() for r in raw]
    if any(not line.startswith(b"{") or b"\n" in line for line in lines):
        return None
    return b"\n".join(lines) + b"\n"


def _read(data: bytes, parse: pa_json.ParseOptions) -> pa.Table:
    """Arrow's JSON reader on ``data`` (JSON lines); raises ArrowInvalid if it refuses them.

    With the all-strings schema a block of :data:`SPLIT_BYTES` or more is read as two halves
    at once, the second on a reader thread (Arrow parses without the GIL): that schema gives
    both halves the same columns, and the halves' rows are the block's rows, in order.
    """
    read = _read_options(len(data))
    cut = data.find(b"\n", len(data) // 2) + 1  # the end of a line: records are lines
    if parse is not _PARSE_OPTIONS[0] or len(data) < SPLIT_BYTES or not 0 < cut < len(data):
        return pa_json.read_json(pa.BufferReader(data), read_options=read, parse_options=parse)
    halves = pa.py_buffer(data)
    second = _reader_pool().submit(_read_part, halves.slice(cut), read, parse)
    try:
        head = _read_part(halves.slice(0, cut), read, parse)
    finally:
        tail = second.result()  # waited for even when the head failed; raises if it failed
    return pa.concat_tables([head, tail])


def _read_part(part: pa.Buffer, read: pa_json.ReadOptions, parse: pa_json.ParseOptions) -> pa.Table:
    # The reader is made on the thread that reads (one made on another thread and handed
    # over read the second half twice as slowly).
    return pa_json.read_json(pa.BufferReader(part), read_options=read, parse_options=parse)


_READERS: list[ThreadPoolExecutor] = []
_READERS_LOCK = threading.Lock()


def _reader_pool() -> ThreadPoolExecutor:
    with _READERS_LOCK:
        if not _READERS:
            _READERS.append(ThreadPoolExecutor(READER_THREADS, thread_name_prefix="json-reader"))
        return _READERS[0]


def read_json_block(raw: list[bytes], joined: bytes | None = None) -> pa.Table | None:
    """Parse records with Arrow's JSON reader when each is one single-line JSON object.

    Returns None when the block needs the record-by-record path (a record spanning lines,
    unknown fields, mixed types, malformed JSON...): that path finds the culprits.
    """
    data = join_lines_or_none(raw, joined)
    if data is None:
        return None
    for parse in _PARSE_OPTIONS:
        try:
            table = _read(data, parse)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if table.num_rows != len(raw) or not _KNOWN.issuperset(table.column_names):
            return None
        if any(t not in _BLOCK_TYPES for t in table.schema.types):
            # A nested value could have let one record's object continue into the next
            # record's "{...}" (rows would no longer map one-to-one to records); a float
            # column has lost which values were written as integers.
            return None
        return table
    return None


def parse_json_records(raw: list[bytes]) -> list[Any]:
    """Parse each record as one JSON value; unparseable ones become ``_Unparseable``."""
    try:
        joined = b"[" + b",".join(raw) + b"]"
        values = json.loads(joined)
        if len(values) == len(raw):
            return values
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass
    out: list[Any] = []
    for data in raw:
        try:
            out.append(json.loads(data))
        except (ValueError, UnicodeDecodeError) as exc:
            out.append(Unparseable(str(exc)))
        except RecursionError:
            out.append(Unparseable("the record nests too deeply"))
    return out


@dataclass(frozen=True)
class Unparseable:
    """Marker for a record that is not valid JSON."""

    reason: str


def convert_json(
    raw: list[bytes], arrival_ms: int, joined: bytes | None = None
) -> tuple[pa.RecordBatch, list[RecordError]]:
    """Parse and convert JSON records: Arrow's reader for clean blocks, else one by one.

    ``joined`` is :func:`join_records` of ``raw`` when the caller already has it.
    """
    table = read_json_block(raw, joined)
    if table is not None:
        return convert_table(table, arrival_ms)
    return convert_objects(parse_json_records(raw), arrival_ms)


def events_to_raw(table: pa.Table | pa.RecordBatch, arrival_ms: int) -> pa.Table:
    """Add ``arrival_time`` to EVENT_SCHEMA rows (cast to the schema if types differ)."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if "arrival_time" in table.column_names:
        table = table.drop_columns(["arrival_time"])
    if table.schema != EVENT_SCHEMA:
        table = table.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)
    arrival = pa.array(np.full(table.num_rows, arrival_ms, dtype=np.int64))
    return pa.Table.from_arrays([*table.columns, arrival], schema=RAW_SCHEMA)
