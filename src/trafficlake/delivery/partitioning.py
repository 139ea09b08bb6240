"""Dynamic partitioning: each record's partition keys, extracted with a simple JQ query.

``DynamicPartitioningConfiguration`` ``Enabled`` with a ``MetadataExtraction`` processor whose
``MetadataExtractionQuery`` is a JQ object of paths, ``{customer: .customer_id, year:
.event.year}`` (``JsonParsingEngine`` ``JQ-1.6``), gives each record the keys the Prefix uses as
``!{partitionKeyFromQuery:customer}``; the records of a buffer land in one object per distinct
combination of keys. An ``AppendDelimiterToRecord`` processor adds a delimiter (default ``\\n``)
to each record. A record that is not a JSON object, lacks a key, or whose key would not make a
folder (empty, ``.``, ``..``, a ``/``, over 255 bytes) goes to the error prefix alone.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from trafficlake.delivery.destination import InvalidDestinationError
from trafficlake.delivery.records import RecordError

PARTITIONING_FAILED = "partitioning-failed"
KEY_COLUMN = "__partition_key_"
"""Prefix of the columns that carry each row's partition keys until delivery."""
_QUERY = re.compile(r"^\s*\{(.*)\}\s*$", re.S)
_ENTRY = re.compile(r"^\s*([A-Za-z_]\w*)\s*:\s*((?:\.[A-Za-z_]\w*)+)\s*$")
MAX_KEY_BYTES = 255


@dataclass(frozen=True)
class Extraction:
    """The keys to extract (name → path of object keys) and the delimiter to append."""

    keys: tuple[tuple[str, tuple[str, ...]], ...]
    delimiter: bytes | None

    @property
    def names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.keys)


def _params(proc: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in proc.get("Parameters") or []:
        if not isinstance(p, dict) or not isinstance(p.get("ParameterValue"), str):
            raise InvalidDestinationError("ProcessingConfiguration: malformed Parameters")
        out[str(p.get("ParameterName"))] = p["ParameterValue"]
    return out


def parse_query(query: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``{name: .a.b, ...}`` → ((name, (a, b)), ...); other JQ is refused in one line."""
    m = _QUERY.match(query)
    entries = m.group(1).split(",") if m else []
    keys: list[tuple[str, tuple[str, ...]]] = []
    for entry in entries:
        e = _ENTRY.match(entry)
        if e is None:
            keys = []
            break
        keys.append((e.group(1), tuple(e.group(2).split(".")[1:])))
    if not keys:
        raise InvalidDestinationError(
            f"MetadataExtractionQuery {query!r}: only a JQ object of paths is supported here, "
            "like {customer: .customer_id, year: .event.year}"
        )
    if len({name for name, _ in keys}) != len(keys):
        raise InvalidDestinationError(f"MetadataExtractionQuery {query!r} names a key twice")
    return tuple(keys)


def parse_dynamic(dynamic: Any, processing: Any) -> Extraction | None:
    """The extraction when ``DynamicPartitioningConfiguration`` is enabled, else None."""
    if not dynamic:
        return None
    if not isinstance(dynamic, dict):
        raise InvalidDestinationError("DynamicPartitioningConfiguration must be an object")
    enabled = dynamic.get("Enabled", False)
    if not isinstance(enabled, bool):
        raise InvalidDestinationError("DynamicPartitioningConfiguration.Enabled must be a boolean")
    if not enabled:
        return None
    retry = dynamic.get("RetryOptions") or {}
    duration = retry.get("DurationInSeconds", 300) if isinstance(retry, dict) else None
    if isinstance(duration, bool) or not isinstance(duration, int) or not 0 <= duration <= 7200:
        raise InvalidDestinationError("RetryOptions.DurationInSeconds must be 0..7200")
    processors = (processing or {}).get("Processors") or []
    keys: tuple[tuple[str, tuple[str, ...]], ...] = ()
    delimiter: bytes | None = None
    for proc in processors:
        kind = proc.get("Type") if isinstance(proc, dict) else None
        if kind == "MetadataExtraction":
            params = _params(proc)
            engine = params.get("JsonParsingEngine", "JQ-1.6")
            if engine != "JQ-1.6":
                raise InvalidDestinationError("JsonParsingEngine must be JQ-1.6")
            keys = parse_query(params.get("MetadataExtractionQuery", ""))
        elif kind == "AppendDelimiterToRecord":
            text = _params(proc).get("Delimiter", "\\n")
            delimiter = codecs.decode(text, "unicode_escape").encode()
    if not keys:
        raise InvalidDestinationError(
            "dynamic partitioning needs a MetadataExtraction processor with a "
            "MetadataExtractionQuery (partitionKeyFromLambda is not supported here)"
        )
    return Extraction(keys, delimiter)


def _key_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return None


class PartitionedConverter:
    """Extracts each record's keys, then runs the stream's converter on the records."""

    def __init__(
        self, extraction: Extraction, inner: Any, max_key_bytes: int = MAX_KEY_BYTES
    ) -> None:
        """``max_key_bytes``: the longest key value whose object key every store can hold."""
        self.extraction = extraction
        self.max_key_bytes = max_key_bytes
        self.inner = inner
        self.key_columns = [KEY_COLUMN + name for name, _ in extraction.keys]
        self.schema: pa.Schema = inner.schema
        for column in self.key_columns:
            self.schema = self.schema.append(pa.field(column, pa.string()))

    def _keys(self, data: bytes) -> dict[str, str]:
        """The record's keys; raises ValueError with the reason."""
        try:
            obj = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ValueError(f"the record is not JSON: {str(exc)[:80]}") from None
        out: dict[str, str] = {}
        for name, path in self.extraction.keys:
            value: Any = obj
            for step in path:
                value = value.get(step) if isinstance(value, dict) else None
            text = _key_text(value)
            if text is None:
                raise ValueError(f"key {name} (.{'.'.join(path)}) is missing or not a scalar")
            if text in ("", ".", "..") or "/" in text or len(text.encode()) > self.max_key_bytes:
                raise ValueError(f"key {name} {text[:40]!r} cannot name a folder")
            out[name] = text
        return out

    def __call__(
        self, raw: list[bytes], arrival_ms: int, joined: bytes | None = None
    ) -> tuple[pa.Table, list[RecordError]]:
        failures: list[RecordError] = []
        sources: list[int] = []
        records: list[bytes] = []
        keys: list[dict[str, str]] = []
        delimiter = self.extraction.delimiter
        for i, data in enumerate(raw):
            try:
                keys.append(self._keys(data))
            except ValueError as exc:
                failures.append(
                    RecordError(
                        i,
                        "DynamicPartitioning.MetadataExtractionFailed",
                        str(exc),
                        PARTITIONING_FAILED,
                    )
                )
                continue
            sources.append(i)
            records.append(data + delimiter if delimiter else data)
        if not records:
            return self.schema.empty_table(), failures
        table, converted = self.inner(records, arrival_ms, None)
        failed = {e.index for e in converted}
        kept = [j for j in range(len(records)) if j not in failed]
        for (name, _), column in zip(self.extraction.keys, self.key_columns, strict=True):
            table = table.append_column(
                column, pa.array([keys[j][name] for j in kept], pa.string())
            )
        for e in converted:
            failures.append(RecordError(sources[e.index], e.code, e.message, e.output_type, e.data))
        return table, sorted(failures, key=lambda e: e.index)
