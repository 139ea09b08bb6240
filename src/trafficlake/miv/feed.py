"""Parse a MIV verkeersdata document (``<miv>``) into Arrow events (``EVENT_SCHEMA``).

``texts.scan_document`` reads each ``<meetpunt>``'s texts (a regex fast path for the feed's
canonical layout, streaming lxml ``iterparse`` otherwise); conversion and validation then run
column-wise in Arrow compute.

Validation (a failing ``<meetpunt>`` becomes one :class:`FeedError`, the rest still parses):

- ``unieke_id`` and ``tijd_waarneming`` are required; ``unieke_id`` must be an int32.
- every numeric element must be an integer (``xs:int``) within int32; flags
  (``actueel_publicatie``, ``beschikbaar``, ``defect``, ``geldig``) within 0..127.
- vehicle counts must be ≥ 0 and speeds within 0..254 (the XSD's value domain; sentinels
  251/252/254 are kept as published). ``rekendata`` values only need to be int32 (the seed's
  transform filters ``bezettingsgraad > -1``, so -1 is a value the feed can carry).
- timestamps are ISO 8601 with an offset (``+01:00``, ``+02:00``, ``Z``, fractional seconds are
  floored) and must fall in [2000-01-01, now + 1 day] (``latest`` overrides the upper bound).
- ``<meetdata>`` needs ``klasse_id`` 1..5; an absent element or ``<rekendata>`` gives nulls.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from trafficlake.miv.texts import SLOTS, DocumentTexts, scan_document
from trafficlake.miv.xmlsafe import (
    FeedParseError,
    TimestampError,
    iterparse_safely,
    parse_timestamp,
    read_source,
)
from trafficlake.schema import (
    EARLIEST_TIMESTAMP,
    EVENT_SCHEMA,
    FUTURE_SLACK_S,
    INTEGER_TEXT,
    bounds_reason,
    value_bounds,
)

__all__ = ["FeedError", "FeedParseError", "ParsedFeed", "parse_document"]

_TIMESTAMPS = ("tijd_waarneming", "tijd_laatst_gewijzigd")
_INT_PATTERN = INTEGER_TEXT


@dataclass(frozen=True)
class FeedError:
    """One ``<meetpunt>`` that could not be converted, with the reason and its XML."""

    reason: str
    raw: str
    unieke_id: str | None


@dataclass
class ParsedFeed:
    """The events of one document, its rejected meetpunten and its header timestamps."""

    events: pa.Table
    errors: list[FeedError] = field(default_factory=list)
    tijd_publicatie: int | None = None
    tijd_laatste_config_wijziging: int | None = None


class _Errors:
    """First reason per rejected row."""

    def __init__(self) -> None:
        self.reasons: dict[int, str] = {}

    def add(self, row: int, reason: str) -> None:
        self.reasons.setdefault(row, reason)

    def add_mask(self, mask: pa.Array, texts: pa.Array, template: str) -> None:
        rows = pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()
        for row in rows:
            self.add(row, template.format(texts[row].as_py()))


def _int_column(name: str, texts: pa.Array, errors: _Errors, low: int, high: int) -> pa.Array:
    """Strings → int64 (nulls stay null); rows with bad text or out-of-range values recorded."""
    is_int = pc.match_substring_regex(texts, _INT_PATTERN)
    if not pc.all(pc.fill_null(is_int, True)).as_py():
        errors.add_mask(pc.invert(is_int), texts, f"{name} is not an integer: {{!r}}")
    clean = pc.if_else(is_int, texts, pa.scalar(None, pa.string()))
    clean = pc.replace_substring_regex(pc.utf8_trim_whitespace(clean), r"^\+", "")
    values = pc.cast(clean, pa.int64())
    extremes = pc.min_max(values)
    lo, hi = extremes["min"].as_py(), extremes["max"].as_py()
    if lo is not None and (lo < low or hi > high):
        out_of_range = pc.or_(pc.less(values, low), pc.greater(values, high))
        what = bounds_reason(name, low, high)
        errors.add_mask(out_of_range, texts, f"{name} {what}: {{!r}}")
    return values


def _time_column(name: str, texts: pa.Array, errors: _Errors, latest: int) -> pa.Array:
    encoded = pc.dictionary_encode(texts)
    parsed: list[int | None] = []
    for text in encoded.dictionary.to_pylist():
        try:
            parsed.append(parse_timestamp(text))
        except TimestampError:
            parsed.append(None)
    lookup = pa.array(parsed, pa.int64())
    values = lookup.take(encoded.indices)
    bad = pc.and_(pc.is_valid(texts), pc.is_null(values))
    if pc.any(bad).as_py():
        errors.add_mask(bad, texts, f"{name} is not an ISO date-time with offset: {{!r}}")
    absurd = pc.or_(pc.less(values, EARLIEST_TIMESTAMP), pc.greater(values, latest))
    if pc.any(pc.fill_null(absurd, False)).as_py():
        what = bounds_reason(name, EARLIEST_TIMESTAMP, latest)
        errors.add_mask(absurd, texts, f"{name} {what}: {{!r}}")
    return values


def parse_document(
    source: bytes | str | os.PathLike[str] | BinaryIO, *, latest: int | None = None
) -> ParsedFeed:
    """Parse one ``<miv>`` document. See the module docstring for what is rejected.

    ``source``: bytes, XML text (a ``str`` starting with ``<``), a path, or a binary file.
    ``latest``: the latest acceptable timestamp (epoch s); default now + 1 day.
    Raises :class:`FeedParseError` for documents that are empty, truncated, not XML, carry
    a DTD, have another root than ``<miv>`` or a malformed header timestamp.
    """
    data = read_source(source)
    latest = int(time.time()) + FUTURE_SLACK_S if latest is None else latest
    return _build(data, scan_document(data), latest)


def _build(data: bytes, texts: DocumentTexts, latest: int) -> ParsedFeed:
    n = len(texts.uids)
    errors = _Errors()
    errors.reasons.update(texts.bad_rows)
    published = texts.published
    for row in pc.indices_nonzero(pc.is_null(texts.uids)).to_pylist():
        errors.add(row, "meetpunt without unieke_id attribute")
    arrays: dict[str, pa.Array] = {
        "beschrijvende_id": texts.bids,
        "unieke_id": _int_column("unieke_id", texts.uids, errors, -(2**31), 2**31 - 1),
        "tijd_publicatie": pa.nulls(n, pa.int64())
        if published is None
        else pa.repeat(pa.scalar(published, pa.int64()), n),
    }
    for name, col in zip(SLOTS, texts.columns, strict=True):
        if name in _TIMESTAMPS:
            arrays[name] = _time_column(name, col, errors, latest)
        else:
            low, high = value_bounds(name, latest)
            arrays[name] = _int_column(name, col, errors, low, high)
    for row in pc.indices_nonzero(pc.is_null(texts.columns[1])).to_pylist():
        errors.add(row, "meetpunt without tijd_waarneming")
    if errors.reasons:
        keep = np.ones(n, dtype=bool)
        keep[list(errors.reasons)] = False
        mask = pa.array(keep)
        arrays = {name: array.filter(mask) for name, array in arrays.items()}
    table = pa.table([arrays[f.name].cast(f.type) for f in EVENT_SCHEMA], schema=EVENT_SCHEMA)
    uid_list = texts.uids.to_pylist() if errors.reasons else []
    feed_errors = _feed_errors(data, errors, uid_list) if errors.reasons else []
    return ParsedFeed(table, feed_errors, published, texts.config_changed)


def _feed_errors(data: bytes, errors: _Errors, uids: list[str | None]) -> list[FeedError]:
    """Serialise the rejected meetpunten (a second pass, only when there are any)."""
    raw: dict[int, str] = {}
    index = 0
    for elem in iterparse_safely(data, root="miv", tags=("meetpunt",)):
        parent = elem.getparent()
        if parent is None or parent.getparent() is not None:
            continue
        if index in errors.reasons:
            raw[index] = etree.tostring(elem, encoding="unicode", with_tail=False)
        index += 1
        elem.clear()
    return [
        FeedError(reason=reason, raw=raw.get(row, ""), unieke_id=uids[row])
        for row, reason in sorted(errors.reasons.items())
    ]
