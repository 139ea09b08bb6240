"""The configuration feed parser and the locations table in the lake."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from trafficlake.config import Settings
from trafficlake.miv.feed import FeedParseError
from trafficlake.miv.locations import (
    LOCATIONS_KEY,
    LOCATIONS_SCHEMA,
    ConfigParseError,
    parse_config,
    write_locations,
)
from trafficlake.miv.simulator import Simulator
from trafficlake.storage import Lake

FIXTURES = Path(__file__).parent / "fixtures"
REAL = Path(__file__).parents[1] / "fixtures" / "miv" / "verkeersdata_metadata-excerpt.xml"
"""The real 2017 configuration feed cut to 100 meetpunten (tests/fixtures/miv/README.md)."""


def test_small_config_with_comma_decimals_and_missing_fields() -> None:
    table = parse_config(FIXTURES / "config_small.xml")
    assert table.schema.equals(LOCATIONS_SCHEMA)
    assert table.schema.metadata == {b"tijd_laatste_config_wijziging": b"1771335726"}
    first, second = table.to_pylist()
    assert first == {
        "unieke_id": 3640,
        "beschrijvende_id": "H291L10",
        "volledige_naam": "Parking Kruibeke",
        "Ident_8": "A0140002",
        "lve_nr": 437,
        "Kmp_Rsys": 94.695,
        "Rijstrook": "R10",
        "X_coord_EPSG_31370": 144477.0917,
        "Y_coord_EPSG_31370": 208290.6237,
        "lengtegraad_EPSG_4326": 4.289767347,
        "breedtegraad_EPSG_4326": 51.18458196,
    }
    assert second["volledige_naam"] is None and second["Kmp_Rsys"] is None  # absent / empty
    assert second["X_coord_EPSG_31370"] == 144484.5 and second["lengtegraad_EPSG_4326"] is None


def test_simulator_config_round_trip() -> None:
    sim = Simulator(seed=4, lanes=700)
    assert parse_config(sim.config_xml()).equals(sim.network)


@pytest.mark.parametrize(
    ("document", "error", "message"),
    [
        (
            b"<mivconfig><meetpunt unieke_id='1'><Kmp_Rsys>12,3,4</Kmp_Rsys></meetpunt></mivconfig>",
            ConfigParseError,
            "config meetpunt 1: Kmp_Rsys is not a number: '12,3,4'",
        ),
        (
            b"<mivconfig><meetpunt unieke_id='x'/></mivconfig>",
            ConfigParseError,
            "unieke_id is not an integer",
        ),
        (
            b"<mivconfig><meetpunt><lve_nr>1</lve_nr></meetpunt></mivconfig>",
            ConfigParseError,
            "without unieke_id",
        ),
        (b"<miv><tijd_publicatie/></miv>", FeedParseError, "root element is <miv>"),
        (
            b'<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><mivconfig>&x;</mivconfig>',
            FeedParseError,
            "DTD",
        ),
        (b"<mivconfig><meetpunt unieke_id='1'>", FeedParseError, "malformed XML at line 1"),
    ],
)
def test_bad_config_documents(document: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        parse_config(document)


def test_write_locations_is_atomic_and_readable(settings: Settings) -> None:
    lake = Lake.from_settings(settings)
    table = parse_config(FIXTURES / "config_small.xml")
    assert write_locations(lake, table) == LOCATIONS_KEY == "locations/locations.parquet"
    back = pq.read_table(io.BytesIO(lake.read_bytes(LOCATIONS_KEY)))
    assert back.equals(table)
    assert [e for e in lake.list("locations") if ".tmp" in str(e)] == []
    write_locations(lake, Simulator(seed=1, lanes=10).network)  # replaced in place
    assert pq.read_table(io.BytesIO(lake.read_bytes(LOCATIONS_KEY))).num_rows == 10


def test_real_2017_configuration() -> None:
    table = parse_config(REAL)
    assert table.num_rows == 100
    assert len(set(table.column("lve_nr").to_pylist())) == 23
    first = table.slice(0, 1).to_pylist()[0]
    assert (first["unieke_id"], first["Kmp_Rsys"]) == (791, 96.276)
    assert table.schema.metadata == {b"tijd_laatste_config_wijziging": b"1487338926"}
