"""The MIV configuration feed (``<mivconfig>``): one row per measuring point (lane)."""

from __future__ import annotations

import os
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
from lxml import etree

from trafficlake.catalog.names import LOCATIONS_KEY
from trafficlake.miv.xmlsafe import FeedParseError, iterparse_safely, parse_timestamp
from trafficlake.storage import Lake

LOCATIONS_SCHEMA = pa.schema(
    [
        pa.field("unieke_id", pa.int32(), nullable=False),
        pa.field("beschrijvende_id", pa.string()),
        pa.field("volledige_naam", pa.string()),
        pa.field("Ident_8", pa.string()),
        pa.field("lve_nr", pa.int32()),
        pa.field("Kmp_Rsys", pa.float64()),
        pa.field("Rijstrook", pa.string()),
        pa.field("X_coord_EPSG_31370", pa.float64()),
        pa.field("Y_coord_EPSG_31370", pa.float64()),
        pa.field("lengtegraad_EPSG_4326", pa.float64()),
        pa.field("breedtegraad_EPSG_4326", pa.float64()),
    ]
)
"""One measuring point (lane) of the configuration feed; decimals as doubles."""

_STRING_FIELDS = ("beschrijvende_id", "volledige_naam", "Ident_8", "Rijstrook")
_DOUBLE_FIELDS = (
    "Kmp_Rsys",
    "X_coord_EPSG_31370",
    "Y_coord_EPSG_31370",
    "lengtegraad_EPSG_4326",
    "breedtegraad_EPSG_4326",
)


class ConfigParseError(FeedParseError):
    """A ``<meetpunt>`` of the configuration feed has a value that cannot be converted."""


def _to_int(text: str | None, what: str, uid: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigParseError(
            f"config meetpunt {uid}: {what} is not an integer: {text!r}"
        ) from None
    if not -(2**31) <= value < 2**31:
        raise ConfigParseError(f"config meetpunt {uid}: {what} out of int32 range: {text!r}")
    return value


def _to_double(text: str | None, what: str, uid: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        raise ConfigParseError(f"config meetpunt {uid}: {what} is not a number: {text!r}") from None


def parse_config(source: bytes | str | os.PathLike[str] | BinaryIO) -> pa.Table:
    """Parse a ``<mivconfig>`` document into a :data:`LOCATIONS_SCHEMA` table.

    Comma decimals (``94,695``) become doubles; empty or absent elements become nulls. The
    schema carries ``tijd_laatste_config_wijziging`` (epoch s) in its metadata when present.
    Raises :class:`FeedParseError` for unsafe, truncated or non-config documents and
    :class:`ConfigParseError` naming the meetpunt for an unconvertible value.
    """
    columns: dict[str, list[object]] = {f.name: [] for f in LOCATIONS_SCHEMA}
    changed: int | None = None
    for elem in iterparse_safely(
        source, root="mivconfig", tags=("meetpunt", "tijd_laatste_config_wijziging")
    ):
        if elem.tag == "tijd_laatste_config_wijziging":
            if elem.getparent() is not None and elem.getparent().tag == "mivconfig":
                changed = parse_timestamp(elem.text)
            continue
        uid = elem.get("unieke_id")
        values = {child.tag: child.text for child in elem if isinstance(child.tag, str)}
        unieke_id = _to_int(uid, "unieke_id", uid)
        if unieke_id is None:
            raise ConfigParseError(
                f"config meetpunt without unieke_id: {etree.tostring(elem)[:200]!r}"
            )
        columns["unieke_id"].append(unieke_id)
        for name in _STRING_FIELDS:
            columns[name].append(values.get(name))
        columns["lve_nr"].append(_to_int(values.get("lve_nr"), "lve_nr", uid))
        for name in _DOUBLE_FIELDS:
            columns[name].append(_to_double(values.get(name), name, uid))
        elem.clear(keep_tail=False)
    schema = LOCATIONS_SCHEMA
    if changed is not None:
        schema = schema.with_metadata({b"tijd_laatste_config_wijziging": str(changed).encode()})
    return pa.table(columns, schema=schema)


def write_locations(lake: Lake, table: pa.Table) -> str:
    """Write ``table`` to ``locations/locations.parquet`` atomically; return the key."""
    table = table.cast(LOCATIONS_SCHEMA.with_metadata(table.schema.metadata))
    with lake.open_atomic(LOCATIONS_KEY) as out:
        pq.write_table(table, out, compression="zstd")
    return LOCATIONS_KEY
