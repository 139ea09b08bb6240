"""The raw event schema (docs/architecture.md, "Raw event"): one lane, one minute, column names as in the MIV feed."""

from __future__ import annotations

import pyarrow as pa

CLASSES = (1, 2, 3, 4, 5)

_fields: list[pa.Field] = [
    pa.field("beschrijvende_id", pa.string()),
    pa.field("unieke_id", pa.int32(), nullable=False),
    pa.field("lve_nr", pa.int32()),
    pa.field("tijd_waarneming", pa.int64(), nullable=False),
    pa.field("tijd_laatst_gewijzigd", pa.int64()),
    pa.field("tijd_publicatie", pa.int64()),
    pa.field("actueel_publicatie", pa.int8()),
    pa.field("beschikbaar", pa.int8()),
    pa.field("defect", pa.int8()),
    pa.field("geldig", pa.int8()),
]
for _k in CLASSES:
    _fields += [
        pa.field(f"verkeersintensiteit_klasse{_k}", pa.int32()),
        pa.field(f"voertuigsnelheid_rekenkundig_klasse{_k}", pa.int32()),
        pa.field(f"voertuigsnelheid_harmonisch_klasse{_k}", pa.int32()),
    ]
_fields += [
    pa.field("rekendata_bezettingsgraad", pa.int32()),
    pa.field("rekendata_beschikbaarheidsgraad", pa.int32()),
    pa.field("rekendata_onrustigheid", pa.int32()),
]

EVENT_SCHEMA = pa.schema(_fields)
"""An event as the parser and simulator produce it (no arrival time yet)."""

RAW_SCHEMA = EVENT_SCHEMA.append(pa.field("arrival_time", pa.int64(), nullable=False))
"""A raw event as landed by the delivery stream: ``arrival_time`` in epoch milliseconds."""

REQUIRED_COLUMNS = ("unieke_id", "tijd_waarneming")
EVENT_TIME_COLUMN = "tijd_waarneming"
STALE_FLAG_COLUMN = "actueel_publicatie"
"""0 marks a stale republish: a minute published before, repeated (for months by some lanes)."""
CURRENT_EVENT_TIME = f"{EVENT_TIME_COLUMN}@current"
STALE_EVENT_TIME = f"{EVENT_TIME_COLUMN}@stale"
"""Statistics keys: the event-time range of a raw file's (or partition's) current rows
(``actueel_publicatie`` not 0, or null) and of its stale republishes, kept apart so months-old
republished rows cannot widen the range that decides which files hold a day. ``(None,
None)``: no such rows."""


def event_time_split(table: pa.Table) -> dict[str, tuple[int | None, int | None]]:
    """``{CURRENT_EVENT_TIME: (min, max), STALE_EVENT_TIME: (min, max)}`` of a table with the
    event-time and stale-flag columns."""
    import pyarrow.compute as pc  # only writers need it: a query's start-up does not

    times = table.column(EVENT_TIME_COLUMN)
    stale = pc.fill_null(pc.equal(table.column(STALE_FLAG_COLUMN), 0), False)
    out: dict[str, tuple[int | None, int | None]] = {}
    for key, rows in ((CURRENT_EVENT_TIME, pc.invert(stale)), (STALE_EVENT_TIME, stale)):
        extremes = pc.min_max(times.filter(rows))
        out[key] = (extremes["min"].as_py(), extremes["max"].as_py())
    return out


# ---- value bounds: ONE place, used by the feed parser and the delivery stream's JSON path ----
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
EARLIEST_TIMESTAMP = 946_684_800
"""2000-01-01T00:00:00Z: older timestamps are absurd (unsynchronised device clocks)."""
FUTURE_SLACK_S = 86_400
"""Timestamps more than one day after now are absurd."""
FLAG_COLUMNS = ("actueel_publicatie", "beschikbaar", "defect", "geldig")
FLAG_RANGE = (0, 127)
COUNT_RANGE = (0, INT32_MAX)
"""``verkeersintensiteit_klasseK``: vehicle counts are never negative."""
SPEED_RANGE = (0, 254)
"""``voertuigsnelheid_*_klasseK``: the XSD's domain; sentinels 251/252/254 are kept."""
INTEGER_TEXT = r"^\s*[+-]?[0-9]{1,18}\s*$"
"""What an integer looks like as text: no exponent, no fraction, no separators."""


def value_bounds(name: str, latest: int) -> tuple[int, int]:
    """Inclusive bounds of an integer EVENT_SCHEMA column; ``latest`` caps timestamps.

    ``tijd_*`` columns: [2000-01-01, latest]; flags 0..127; counts >= 0; speeds 0..254;
    everything else (ids, ``rekendata_*``, where -1 is a published value) int32.
    """
    if name.startswith("tijd_"):
        return EARLIEST_TIMESTAMP, latest
    if name in FLAG_COLUMNS:
        return FLAG_RANGE
    if name.startswith("verkeersintensiteit"):
        return COUNT_RANGE
    if name.startswith("voertuigsnelheid"):
        return SPEED_RANGE
    return INT32_MIN, INT32_MAX


def bounds_reason(name: str, low: int, high: int) -> str:
    """How a value outside ``value_bounds`` is described (``"<name> <reason>: <value>"``)."""
    if name.startswith("tijd_"):
        return "absurd (before 2000 or more than a day ahead)"
    if low == 0 and high > SPEED_RANGE[1]:
        return "negative"
    return f"outside {low}..{high}"
