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
  floored) and must fall in the window [``earliest``, ``latest``] (default [2000-01-01, now +
  1 day]); a row's times may also not be more than a day after the document's
  ``tijd_publicatie`` (a minute is published after it is measured).
- ``<meetdata>`` needs ``klasse_id`` 1..5; an absent element or ``<rekendata>`` gives nulls.
- structure the XSD does not allow (a nested ``<meetpunt>``, an unknown or repeated element,
  mixed content) quarantines the ``<meetpunt>``; nothing is silently dropped or changed.

The whole document is refused (:class:`FeedParseError`) when its ``tijd_publicatie`` is outside
the window: it sets the simulated arrival clock and so the raw partition of every later record.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
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

__all__ = ["FeedError", "FeedParseError", "ParsedFeed", "arrival_window", "parse_document"]

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


def _iso(epoch: int) -> str:
    if EARLIEST_TIMESTAMP <= epoch < 253_402_300_800:  # renders only before year 10000
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(epoch)


def _window_reason(low: int, high: int) -> str:
    return f"outside the accepted window {_iso(low)}..{_iso(high)}"


def _time_column(
    name: str, texts: pa.Array, errors: _Errors, earliest: int, latest: int, reason: str
) -> pa.Array:
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
    absurd = pc.or_(pc.less(values, earliest), pc.greater(values, latest))
    if pc.any(pc.fill_null(absurd, False)).as_py():
        errors.add_mask(absurd, texts, f"{name} {reason}: {{!r}}")
    return values


def arrival_window(arrival: float, max_ahead_s: int, max_age_days: int = 0) -> tuple[int, int]:
    """``(earliest, latest)`` for a document arriving at ``arrival`` (epoch s).

    ``max_age_days`` 0 leaves only the 2000-01-01 floor (the feed republishes stale rows
    months old, and archives are replayed years later).
    """
    earliest = int(arrival) - max_age_days * 86_400 if max_age_days > 0 else EARLIEST_TIMESTAMP
    return max(earliest, EARLIEST_TIMESTAMP), int(arrival) + max_ahead_s


def parse_document(
    source: bytes | str | os.PathLike[str] | BinaryIO,
    *,
    latest: int | None = None,
    earliest: int | None = None,
) -> ParsedFeed:
    """Parse one ``<miv>`` document. See the module docstring for what is rejected.

    ``source``: bytes, XML text (a ``str`` starting with ``<``), a path, or a binary file.
    ``latest``: the latest acceptable timestamp (epoch s); default now + 1 day.
    ``earliest``: the earliest acceptable timestamp; default (and never before) 2000-01-01.
    Raises :class:`FeedParseError` for documents that are empty, truncated, not XML, carry
    a DTD, have another root than ``<miv>``, a malformed header timestamp or a
    ``tijd_publicatie`` outside the window.
    """
    data = read_source(source)
    latest = int(time.time()) + FUTURE_SLACK_S if latest is None else latest
    earliest = EARLIEST_TIMESTAMP if earliest is None else max(earliest, EARLIEST_TIMESTAMP)
    return _build(data, scan_document(data), earliest, latest)


def _check_header(texts: DocumentTexts, earliest: int, latest: int) -> None:
    """Header timestamps reach the arrival clock: out of the window refuses the document."""
    checks = (
        ("tijd_publicatie", texts.published, earliest),
        ("tijd_laatste_config_wijziging", texts.config_changed, EARLIEST_TIMESTAMP),
    )
    for name, value, low in checks:
        if value is not None and not low <= value <= latest:
            raise FeedParseError(f"<{name}> {_window_reason(low, latest)}: {_iso(value)}")


def _build(data: bytes, texts: DocumentTexts, earliest: int, latest: int) -> ParsedFeed:
    _check_header(texts, earliest, latest)
    if texts.published is not None:  # a minute is published after it is measured
        latest = min(latest, texts.published + FUTURE_SLACK_S)
    reason = _window_reason(earliest, latest)
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
            arrays[name] = _time_column(name, col, errors, earliest, latest, reason)
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
    # every <meetpunt>, nested ones too, in the order ``texts.scan_document`` counts them
    for index, elem in enumerate(iterparse_safely(data, root="miv", tags=("meetpunt",))):
        if index in errors.reasons:
            raw[index] = etree.tostring(elem, encoding="unicode", with_tail=False)
        parent = elem.getparent()
        if parent is not None and parent.getparent() is None:
            elem.clear()
    return [
        FeedError(reason=reason, raw=raw.get(row, ""), unieke_id=uids[row])
        for row, reason in sorted(errors.reasons.items())
    ]
