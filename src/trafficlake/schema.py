"""The raw event schema (DESIGN 3.1): one lane, one minute, column names as in the MIV feed."""

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
