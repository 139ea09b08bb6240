"""Record format conversion: JSON records → a catalog table's columns, as Firehose's SerDes do it.

A stream with ``DataFormatConversionConfiguration`` converts each JSON record to the columns of a
catalog table (``SchemaConfiguration``) with the rules of its deserializer:

- **OpenX JSON SerDe** (``OpenXJsonSerDe``): keys match columns case-insensitively unless
  ``CaseInsensitive`` is false (two keys of one record that fold to the same column fail the
  record: "Duplicate key"); ``ConvertDotsInJsonKeysToUnderscores`` turns ``a.b`` into ``a_b``;
  ``ColumnToJsonKeyMappings`` maps a column to another key. Numbers parse from strings
  (``"42"`` into an ``int`` column); a string column takes a number or a boolean as its text
  and an object or array as its JSON text; a boolean column takes ``true``/``false`` or a string
  (``"true"``, any case, is true; any other string false).
- **Hive JSON SerDe** (``HiveJsonSerDe``): keys match case-insensitively; numeric and boolean
  columns need JSON numbers and booleans (a string there fails the record); string columns take
  any scalar's text.

Both: keys that are no column are dropped, a missing key or ``null`` is NULL, an integer out of
its column's range, a fraction in an integer column or a non-number in a numeric column fails
the record. Timestamps parse with ``TimestampFormats`` (Joda-style patterns or ``millis``) or by
default as ``yyyy-MM-dd HH:mm:ss[.fffffffff]`` (``java.sql.Timestamp.valueOf``), ISO
``yyyy-MM-ddTHH:mm:ss[.f]Z``, or epoch seconds. A record that is not a JSON object, is not UTF-8
or not JSON at all fails alone. Failing records come back as :class:`RecordError`; the stream
writes them to its error prefix under ``format-conversion-failed``.

The hot path is column-wise: the call's records are read by Arrow's JSON reader in one block and
every column is converted with Arrow kernels. Only a block Arrow cannot read as one (mixed types
in a column, nested values, malformed or duplicate-key records...) is parsed record by record,
and only a column whose bulk conversion fails is converted value by value, to find the culprits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from trafficlake.delivery.datepattern import UnterminatedQuoteError, split_pattern
from trafficlake.delivery.errors import DeliveryError
from trafficlake.delivery.records import MALFORMED, RecordError, join_lines_or_none

INVALID_VALUE = "DataFormatConversion.InvalidValue"
SERDES = ("OpenXJsonSerDe", "HiveJsonSerDe")


class UnsupportedSchemaError(DeliveryError):
    """A catalog table column type that record format conversion cannot write."""


_SIMPLE_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("ms"),
    "date": pa.date32(),
}
_PARAMETRISED = re.compile(r"^(varchar|char)\(\s*\d+\s*\)$|^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


def arrow_type(hive_type: str) -> pa.DataType:
    """The Arrow type a Hive column type is written as; raises UnsupportedSchemaError."""
    t = hive_type.strip().lower()
    if t in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[t]
    m = _PARAMETRISED.match(t)
    if m and m.group(1):
        return pa.string()
    if m:
        precision, scale = int(m.group(2)), int(m.group(3))
        if not 1 <= precision <= 38 or scale > precision:
            raise UnsupportedSchemaError(f"invalid column type {hive_type!r}")
        return pa.decimal128(precision, scale)
    if t == "decimal":
        return pa.decimal128(10, 0)
    raise UnsupportedSchemaError(
        f"column type {hive_type!r} is not supported by record format conversion here "
        "(string, varchar, char, tinyint, smallint, int, bigint, float, double, decimal, "
        "boolean, timestamp, date)"
    )


@dataclass(frozen=True)
class SerDe:
    """A deserializer's settings (``InputFormatConfiguration.Deserializer``)."""

    kind: str = "OpenXJsonSerDe"
    case_insensitive: bool = True
    dots_to_underscores: bool = False
    column_to_key: Mapping[str, str] = field(default_factory=dict)
    timestamp_formats: tuple[str, ...] = ()

    @property
    def strings_parse_as_numbers(self) -> bool:
        return self.kind == "OpenXJsonSerDe"

    def column_for_key(self, key: str) -> str:
        """The column name a JSON key addresses (before the table's columns are consulted)."""
        if self.dots_to_underscores:
            key = key.replace(".", "_")
        return key.lower() if self.case_insensitive else key


# ---- timestamps ------------------------------------------------------------------------------
_JODA = {
    "yyyy": "%Y",
    "MM": "%m",
    "dd": "%d",
    "HH": "%H",
    "mm": "%M",
    "ss": "%S",
    "Z": "%z",
    "ZZ": "%z",
    "SSS": "%f",
}
_DEFAULT_TS = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z?)$"
)


def joda_to_strptime(pattern: str) -> str:
    """A Joda DateTimeFormat pattern (the common letters and 'quoted text') as a strptime one."""
    out: list[str] = []
    try:
        for kind, piece in split_pattern(pattern):
            if kind == "letters":
                if piece not in _JODA:
                    raise ValueError(
                        f"unsupported timestamp pattern letters {piece!r} in {pattern!r}"
                    )
                out.append(_JODA[piece])
            else:
                out.append(piece.replace("%", "%%"))
    except UnterminatedQuoteError:
        raise ValueError(f"unterminated quote in timestamp format {pattern!r}") from None
    return "".join(out)


def _parse_timestamp(value: Any, serde: SerDe, strptimes: Sequence[str]) -> int:
    """Epoch milliseconds of one value; raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int):
        if "millis" in serde.timestamp_formats:
            return value
        return value * 1000
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {json.dumps(value)[:40]}")
    if "millis" in serde.timestamp_formats and re.fullmatch(r"-?\d+", value):
        return int(value)
    for fmt in strptimes:
        try:
            t = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        return int(t.timestamp() * 1000)
    if not serde.timestamp_formats:
        m = _DEFAULT_TS.match(value)
        if m:
            y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
            frac = (m.group(7) or "0").ljust(3, "0")[:3]
            t = datetime(y, mo, d, h, mi, s, tzinfo=UTC)
            return int(t.timestamp()) * 1000 + int(frac)
        if re.fullmatch(r"-?\d+", value):
            return int(value) * 1000
    raise ValueError(f"timestamp {value[:40]!r} matches none of the formats")


# ---- one value (the slow path) ---------------------------------------------------------------
_INT_TEXT = re.compile(r"^[+-]?\d+$")
_FLOAT_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[dDfF]?$|^[+-]?(NaN|Infinity)$")


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return repr(text[:40]) if isinstance(value, str) else text[:40]


@dataclass(frozen=True)
class _Column:
    name: str
    type: pa.DataType


def _convert_value(value: Any, col: _Column, serde: SerDe, strptimes: Sequence[str]) -> Any:
    """One JSON value as the column's Python value; raises ValueError with a reason."""
    if value is None:
        return None
    t = col.type
    if pa.types.is_string(t):
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return json.dumps(value, separators=(",", ":"))
    if pa.types.is_boolean(t):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and serde.strings_parse_as_numbers:
            return value.lower() == "true"
        raise ValueError(f"{col.name}: not a boolean: {_shown(value)}")
    if pa.types.is_timestamp(t):
        return _parse_timestamp(value, serde, strptimes)
    if pa.types.is_date32(t):
        if isinstance(value, str):
            return datetime.strptime(value, "%Y-%m-%d").date()
        raise ValueError(f"{col.name}: not a date: {_shown(value)}")
    if isinstance(value, str) and not serde.strings_parse_as_numbers:
        raise ValueError(f"{col.name}: a string where a number is expected: {_shown(value)}")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{col.name}: not a number: {_shown(value)}")
    if pa.types.is_integer(t):
        if isinstance(value, str) and not _INT_TEXT.match(value):
            raise ValueError(f"{col.name} is not an integer: {_shown(value)}")
        if isinstance(value, float):
            raise ValueError(f"{col.name} is not an integer: {_shown(value)}")
        number = int(value)
        info = np.iinfo(t.to_pandas_dtype())
        if not info.min <= number <= info.max:
            raise ValueError(f"{col.name} is out of range for {t}: {_shown(value)}")
        return number
    if pa.types.is_floating(t):
        if isinstance(value, str):
            if not _FLOAT_TEXT.match(value):
                raise ValueError(f"{col.name} is not a number: {_shown(value)}")
            return float(value.rstrip("dDfF"))
        return float(value)
    if pa.types.is_decimal(t):
        try:
            d = Decimal(value if isinstance(value, str) else repr(value))
        except InvalidOperation:
            raise ValueError(f"{col.name} is not a decimal: {_shown(value)}") from None
        return d
    raise ValueError(f"{col.name}: unsupported type {t}")  # pragma: no cover - arrow_type()


# ---- the converter ---------------------------------------------------------------------------
_READ = pa_json.ReadOptions(use_threads=False, block_size=1 << 30)
_PARSE = pa_json.ParseOptions(unexpected_field_behavior="infer")
_NULL_STRING = pa.scalar(None, pa.string())
_SCALARS = (pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.null())


class SerDeConverter:
    """Converts a call's JSON records to a table of the schema's columns, bad ones apart."""

    def __init__(self, columns: Sequence[tuple[str, str]], serde: SerDe | None = None) -> None:
        if not columns:
            raise UnsupportedSchemaError("the schema table has no columns")
        self.serde = serde or SerDe()
        self.columns = [_Column(name.lower(), arrow_type(typ)) for name, typ in columns]
        self.schema = pa.schema([pa.field(c.name, c.type) for c in self.columns])
        self._by_name = {c.name: c for c in self.columns}
        self._key_to_column = {
            (key.lower() if self.serde.case_insensitive else key): column.lower()
            for column, key in self.serde.column_to_key.items()
        }
        self._strptimes = [
            joda_to_strptime(f) for f in self.serde.timestamp_formats if f != "millis"
        ]

    def _column_of(self, key: str) -> str | None:
        """The column a JSON key lands in, or None (the key is dropped)."""
        k = key.lower() if self.serde.case_insensitive else key
        name = self._key_to_column.get(k)
        if name is None:
            name = self.serde.column_for_key(key)
        return name if name in self._by_name else None

    def __call__(
        self, raw: list[bytes], arrival_ms: int, joined: bytes | None = None
    ) -> tuple[pa.Table, list[RecordError]]:
        """The stream's converter interface (the arrival time plays no part)."""
        return self.convert(raw, joined)

    def convert(
        self, raw: list[bytes], joined: bytes | None = None
    ) -> tuple[pa.Table, list[RecordError]]:
        """Convert one call's records; never raises for any input bytes."""
        table = self._read_block(raw, joined)
        if table is not None:
            converted = self._convert_block(table)
            if converted is not None:
                return converted
        return self._convert_records(raw)

    # -- the block path
    def _read_block(self, raw: list[bytes], joined: bytes | None) -> pa.Table | None:
        data = join_lines_or_none(raw, joined)
        if data is None:
            return None
        try:
            table = pa_json.read_json(
                pa.BufferReader(data), read_options=_READ, parse_options=_PARSE
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
            return None
        if table.num_rows != len(raw) or any(t not in _SCALARS for t in table.schema.types):
            return None  # nested values could join or split records: the record path decides
        return table

    def _convert_block(self, table: pa.Table) -> tuple[pa.Table, list[RecordError]] | None:
        sources: dict[str, str] = {}
        for key in table.column_names:
            name = self._column_of(key)
            if name is None:
                continue
            if name in sources:
                return None  # two keys fold to one column: which records have both decides
            sources[name] = key
        n = table.num_rows
        bad: dict[int, str] = {}
        arrays = []
        for col in self.columns:
            key = sources.get(col.name)
            if key is None:
                arrays.append(pa.nulls(n, col.type))
                continue
            arrays.append(self._convert_array(table.column(key).combine_chunks(), col, bad))
        out = pa.Table.from_arrays(arrays, schema=self.schema)
        errors = [RecordError(i, INVALID_VALUE, reason) for i, reason in sorted(bad.items())]
        if bad:
            keep = np.ones(n, dtype=bool)
            keep[list(bad)] = False
            out = out.filter(pa.array(keep))
        return out, errors

    def _convert_array(self, arr: pa.Array, col: _Column, bad: dict[int, str]) -> pa.Array:
        """Bulk conversion of one column; value by value only if the bulk cast fails."""
        try:
            return self._fast_array(arr, col)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError):
            pass
        values = []
        for j, v in enumerate(arr.to_pylist()):
            try:
                values.append(_convert_value(v, col, self.serde, self._strptimes))
            except (ValueError, OverflowError) as exc:
                bad.setdefault(j, str(exc))
                values.append(None)
        return pa.array(values, col.type)

    def _fast_array(self, arr: pa.Array, col: _Column) -> pa.Array:
        src, t = arr.type, col.type
        if pa.types.is_null(src):
            return pa.nulls(len(arr), t)
        if pa.types.is_string(t):
            if pa.types.is_string(src) or pa.types.is_integer(src):
                return pc.cast(arr, t)
            raise ValueError("text of floats and booleans: value by value")
        if pa.types.is_string(src):
            if not self.serde.strings_parse_as_numbers:
                raise ValueError("strings in a non-string column")
            if pa.types.is_integer(t):
                return pc.cast(arr, t)  # parses as t: raises on text or overflow
            if pa.types.is_floating(t) or pa.types.is_decimal(t):
                return pc.cast(arr, t)
            raise ValueError("timestamps, dates, booleans: value by value")
        if pa.types.is_integer(src) and (pa.types.is_integer(t) or pa.types.is_floating(t)):
            return pc.cast(arr, t)  # safe cast: raises on overflow
        if pa.types.is_floating(src) and pa.types.is_floating(t):
            return pc.cast(arr, t)
        if pa.types.is_boolean(src) and pa.types.is_boolean(t):
            return arr
        raise ValueError("value by value")

    # -- the record path
    def _parse(self, data: bytes) -> dict[str, Any]:
        """One record as ``{column: value}``; raises _Malformed."""
        try:
            obj = json.loads(data, object_pairs_hook=_no_duplicates)
        except RecursionError:
            raise _Malformed("the record nests too deeply") from None
        except UnicodeDecodeError as exc:
            raise _Malformed(f"the record is not UTF-8: {exc.reason}") from None
        except ValueError as exc:
            raise _Malformed(f"malformed JSON: {exc}") from None
        if not isinstance(obj, dict):
            kind = "an array" if isinstance(obj, list) else "a scalar"
            raise _Malformed(f"the record is {kind}, not a JSON object")
        row: dict[str, Any] = {}
        for key, value in obj.items():
            name = self._column_of(key)
            if name is None:
                continue
            if name in row:
                raise _Malformed(f"Duplicate key {key!r} (column {name})")
            row[name] = value
        return row

    def _convert_records(self, raw: list[bytes]) -> tuple[pa.Table, list[RecordError]]:
        errors: list[RecordError] = []
        columns: dict[str, list[Any]] = {c.name: [] for c in self.columns}
        for i, data in enumerate(raw):
            try:
                row = self._parse(data)
                values = [
                    _convert_value(row.get(c.name), c, self.serde, self._strptimes)
                    for c in self.columns
                ]
            except _Malformed as exc:
                errors.append(RecordError(i, MALFORMED, str(exc)))
                continue
            except (ValueError, OverflowError) as exc:
                errors.append(RecordError(i, INVALID_VALUE, str(exc)))
                continue
            except Exception as exc:  # one record's failure stays its own
                errors.append(RecordError(i, MALFORMED, f"{type(exc).__name__}: {exc}"))
                continue
            for c, v in zip(self.columns, values, strict=True):
                columns[c.name].append(v)
        arrays = [pa.array(columns[c.name], c.type) for c in self.columns]
        return pa.Table.from_arrays(arrays, schema=self.schema), errors


class _Malformed(ValueError):
    """The record is no JSON object (or has a duplicate key)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _Malformed(f"Duplicate key {k!r}")
            seen.add(k)
    return out
