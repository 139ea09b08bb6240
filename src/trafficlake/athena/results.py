"""Query results the way Athena gives them: type names, value text, the CSV result file.

Athena renders every value as text (``VarCharValue``): numbers as Trino prints them (doubles as
Java does: ``97.0``, ``1.0E7``), timestamps with milliseconds, ``NULL`` as no value. The result
file ``<id>.csv`` quotes every field and leaves NULL empty; DDL output (SHOW, DESCRIBE) is
``<id>.txt``, one tab-separated line per row, without a header.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

_SIMPLE = {
    "BOOLEAN": "boolean", "TINYINT": "tinyint", "SMALLINT": "smallint", "INTEGER": "integer",
    "BIGINT": "bigint", "HUGEINT": "bigint", "UTINYINT": "smallint", "USMALLINT": "integer",
    "UINTEGER": "bigint", "UBIGINT": "decimal", "FLOAT": "float", "DOUBLE": "double",
    "VARCHAR": "varchar", "DATE": "date", "TIME": "time", "TIMESTAMP": "timestamp",
    "TIMESTAMP_S": "timestamp", "TIMESTAMP_MS": "timestamp", "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone", "BLOB": "varbinary",
    "INTERVAL": "interval day to second", "UUID": "uuid", "JSON": "json",
}  # fmt: skip
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    """Athena's type name: integer, bigint, double, varchar, timestamp, array, ..."""
    precision: int = 0
    scale: int = 0

    def to_api(self) -> dict[str, Any]:
        """Athena's ``ColumnInfo``."""
        return {
            "CatalogName": "hive",
            "SchemaName": "",
            "TableName": "",
            "Name": self.name,
            "Label": self.name,
            "Type": self.type,
            "Precision": self.precision,
            "Scale": self.scale,
            "Nullable": "UNKNOWN",
            "CaseSensitive": self.type in ("varchar", "char", "string"),
        }


def athena_type(duck_type: str) -> tuple[str, int, int]:
    """(Athena type name, precision, scale) of a DuckDB type name."""
    t = duck_type.upper()
    if m := _DECIMAL.fullmatch(t):
        return "decimal", int(m.group(1)), int(m.group(2))
    if t.endswith("]"):
        return "array", 0, 0
    if t.startswith("STRUCT"):
        return "row", 0, 0
    if t.startswith("MAP"):
        return "map", 0, 0
    if t.startswith("VARCHAR"):
        return "varchar", 2147483647, 0
    name = _SIMPLE.get(t, t.lower())
    precision = {"integer": 10, "bigint": 19, "smallint": 5, "tinyint": 3, "double": 17}
    return name, precision.get(name, 0), 0


def java_double(value: float) -> str:
    """A double as Java's ``Double.toString`` prints it (as Trino/Athena do)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(float(value))
        return text if "." in text else text + ".0"
    mantissa, exponent = np.format_float_scientific(value, unique=True).split("e")
    mantissa = mantissa + "0" if mantissa.endswith(".") else mantissa
    return f"{mantissa}E{int(exponent)}"


def text(value: Any, athena: str) -> str | None:
    """The text Athena shows for one value (None for NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value) if athena != "float" else java_double(float(np.float32(value)))
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if isinstance(value, dt.datetime):
        out = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        if value.tzinfo is not None:
            out += " " + (value.tzname() or "UTC")
        return out
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return " ".join(f"{b:02x}" for b in value)
    if isinstance(value, list):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_nested(v)}" for k, v in value.items()) + "}"
    return str(value)


def _nested(value: Any) -> str:
    if value is None:
        return "null"
    kind = "float" if isinstance(value, float) else ""
    return text(value, kind) or ""


def rows_as_text(table: pa.Table, columns: Sequence[ColumnInfo]) -> Iterator[list[str | None]]:
    """Each row of ``table`` as Athena's texts."""
    kinds = [c.type for c in columns]
    for batch in table.to_batches():
        cols = [c.to_pylist() for c in batch.columns]
        for i in range(batch.num_rows):
            yield [text(col[i], k) for col, k in zip(cols, kinds, strict=True)]


def _csv_field(value: str | None) -> str:
    return "" if value is None else '"' + value.replace('"', '""') + '"'


def csv_text(header: Sequence[str] | None, rows: Iterator[list[str | None]]) -> str:
    """Athena's result CSV: every field quoted, NULL empty, header first (SELECT)."""
    out = io.StringIO()
    if header is not None:
        out.write(",".join(_csv_field(h) for h in header) + "\n")
    for row in rows:
        out.write(",".join(_csv_field(v) for v in row) + "\n")
    return out.getvalue()


def parse_csv(data: str) -> list[list[str | None]]:
    """Rows of an Athena result CSV, NULL (an empty unquoted field) as None."""
    rows: list[list[str | None]] = []
    row: list[str | None] = []
    i, n = 0, len(data)
    while i < n:
        if data[i] == '"':
            j, parts = i + 1, []
            while True:
                k = data.index('"', j)
                parts.append(data[j:k])
                if k + 1 < n and data[k + 1] == '"':
                    parts.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            row.append("".join(parts))
        else:
            row.append(None)
        if i >= n or data[i] == "\n":
            rows.append(row)
            row = []
        i += 1
    return rows


def ddl_text(rows: Iterator[list[str | None]]) -> str:
    """Athena's DDL output file (``<id>.txt``): tab-separated lines, no header."""
    return "".join("\t".join(v or "" for v in row) + "\n" for row in rows)


def metadata_json(columns: Sequence[ColumnInfo]) -> bytes:
    return json.dumps({"ColumnInfo": [c.to_api() for c in columns]}).encode()


def columns_from_metadata(data: bytes) -> list[ColumnInfo]:
    info = json.loads(data)["ColumnInfo"]
    return [ColumnInfo(c["Name"], c["Type"], c["Precision"], c["Scale"]) for c in info]
