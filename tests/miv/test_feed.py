"""The verkeersdata parser: values, offsets, sentinels, quarantine, safety, both parse paths."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pyarrow as pa
import pytest

from trafficlake.errors import TrafficlakeError
from trafficlake.miv.fastpath import scan_canonical
from trafficlake.miv.feed import FeedParseError, ParsedFeed, parse_document
from trafficlake.miv.simulator import Simulator
from trafficlake.schema import CLASSES, EVENT_SCHEMA

FIXTURES = Path(__file__).parent / "fixtures"
REAL = Path(__file__).parents[1] / "fixtures" / "miv" / "verkeersdata-excerpt.json"
"""100 meetpunten of a real 2017 feed minute (see tests/fixtures/miv/README.md)."""
LATEST = 1893456000  # 2030-01-01: keeps the tests independent of the wall clock


def epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def parse(data: bytes | str | Path) -> ParsedFeed:
    return parse_document(data, latest=LATEST)


def test_basic_fixture_values_offsets_and_sentinels() -> None:
    data = (FIXTURES / "feed_basic.xml").read_bytes()
    assert scan_canonical(data) is not None  # the real layout takes the fast path
    feed = parse(data)
    assert feed.errors == []
    assert feed.events.schema.equals(EVENT_SCHEMA)
    assert feed.tijd_publicatie == epoch("2026-07-01T06:39:54+00:00")  # .399Z floored
    assert feed.tijd_laatste_config_wijziging == epoch("2026-02-17T13:42:06+00:00")
    rows = feed.events.to_pylist()
    assert [r["unieke_id"] for r in rows] == [101, 102, 103]
    first = rows[0]
    # +01:00 and +02:00 both converted to UTC
    assert first["tijd_waarneming"] == epoch("2026-07-01T06:38:00+00:00")
    assert first["tijd_laatst_gewijzigd"] == epoch("2026-07-01T06:39:14+00:00")
    assert all(r["tijd_publicatie"] == feed.tijd_publicatie for r in rows)
    assert first["beschrijvende_id"] == "H101L10" and first["lve_nr"] == 7
    assert (first["verkeersintensiteit_klasse1"], first["voertuigsnelheid_harmonisch_klasse1"]) == (
        0,
        252,
    )
    assert first["voertuigsnelheid_harmonisch_klasse4"] == 254  # sentinel kept as published
    assert first["rekendata_onrustigheid"] == 14
    missing = rows[1]  # all 254 with availability 0: missing data
    assert all(missing[f"voertuigsnelheid_harmonisch_klasse{k}"] == 254 for k in CLASSES)
    assert missing["rekendata_beschikbaarheidsgraad"] == 0
    stale = rows[2]
    assert (stale["actueel_publicatie"], stale["defect"], stale["geldig"]) == (0, 2, 3)
    assert stale["tijd_waarneming"] == epoch("2026-02-15T09:29:00+00:00")
    assert stale["voertuigsnelheid_rekenkundig_klasse2"] == 251
    assert stale["rekendata_bezettingsgraad"] == -1  # the seed filters on > -1: kept


def test_tricky_fixture_quarantines_each_bad_meetpunt_with_its_reason() -> None:
    data = (FIXTURES / "feed_tricky.xml").read_bytes()
    assert scan_canonical(data) is None  # comments, entities, missing parts: lxml path
    feed = parse(data)
    assert feed.tijd_laatste_config_wijziging is None
    kept = feed.events.to_pylist()
    assert [r["unieke_id"] for r in kept] == [201, 211]
    partial = kept[0]
    assert partial["beschrijvende_id"] == "A&B L10"
    assert partial["lve_nr"] == 9  # whitespace around the number tolerated
    assert partial["verkeersintensiteit_klasse2"] == 4  # "+4"
    assert partial["tijd_waarneming"] == epoch("2026-07-01T06:38:00+00:00")  # .500 floored
    assert partial["tijd_laatst_gewijzigd"] is None
    assert partial["verkeersintensiteit_klasse1"] is None  # absent class: nulls
    assert partial["rekendata_bezettingsgraad"] is None  # absent rekendata: nulls
    assert kept[1]["defect"] == 1 and kept[1]["geldig"] == 1
    reasons = {e.unieke_id: e.reason for e in feed.errors}
    assert reasons == {
        "202": "verkeersintensiteit_klasse2 is not an integer: 'abc'",
        None: "meetpunt without unieke_id attribute",
        "204": "meetpunt without tijd_waarneming",
        "205": "tijd_waarneming outside the accepted window "
        "2000-01-01T00:00:00Z..2026-07-02T06:39:54Z: '1999-12-31T23:00:00+01:00'",
        "206": "verkeersintensiteit_klasse3 negative: '-5'",
        "207": "rekendata_onrustigheid outside -2147483648..2147483647: '2147483648'",
        "208": "voertuigsnelheid_rekenkundig_klasse4 outside 0..254: '300'",
        "209": "meetdata klasse_id not 1..5: '7'",
        "210": "tijd_waarneming is not an ISO date-time with offset: '2026-07-01 07:38'",
        "99999999999": "unieke_id outside -2147483648..2147483647: '99999999999'",
        "213": "tijd_waarneming outside the accepted window "
        "2000-01-01T00:00:00Z..2026-07-02T06:39:54Z: '2126-07-01T07:38:00+01:00'",
    }
    for error in feed.errors:
        assert error.raw.startswith("<meetpunt") and error.raw.endswith("</meetpunt>")
        if error.unieke_id is not None:
            assert f'unieke_id="{error.unieke_id}"' in error.raw
    assert len(kept) + len(feed.errors) == data.count(b"<meetpunt")


def test_latest_bound_is_configurable() -> None:
    data = (FIXTURES / "feed_basic.xml").read_bytes()
    # published after ``latest``: the whole document is refused (it would set the clock)
    with pytest.raises(FeedParseError, match=r"^<tijd_publicatie> outside the accepted window"):
        parse_document(data, latest=epoch("2026-06-01T00:00:00+00:00"))
    published = epoch("2026-07-01T06:39:54+00:00")
    early = parse_document(data, latest=published)
    assert early.events.num_rows == 3 and early.tijd_publicatie == published


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE miv [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<miv><tijd_publicatie>2026-07-01T08:39:54+02:00</tijd_publicatie>
<meetpunt unieke_id="1" beschrijvende_id="&lol9;"><tijd_waarneming>2026-07-01T07:38:00+01:00</tijd_waarneming></meetpunt>
</miv>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE miv [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<miv><tijd_publicatie>2026-07-01T08:39:54+02:00</tijd_publicatie>
<meetpunt unieke_id="1" beschrijvende_id="&xxe;"><tijd_waarneming>2026-07-01T07:38:00+01:00</tijd_waarneming></meetpunt>
</miv>"""


@pytest.mark.parametrize(
    "document",
    [
        BILLION_LAUGHS,
        XXE,
        XXE.decode()
        .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
        .encode("utf-16"),
    ],
    ids=["billion-laughs", "xxe", "xxe-utf16"],
)
def test_entity_attacks_are_refused(document: bytes) -> None:
    with pytest.raises(FeedParseError, match="DTD"):
        parse(document)


def test_truncated_document_names_the_line() -> None:
    data = Simulator(lanes=20, clean=True).to_xml(Simulator(lanes=20, clean=True).minute(0))
    with pytest.raises(FeedParseError, match=r"^malformed XML at line \d+: "):
        parse(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"", "empty document"),
        (b"   \n", "empty document"),
        (b"not xml at all", "malformed XML"),
        (b'{"miv": []}', "malformed XML"),
        (b"<mivconfig schemaVersion='1'><meetpunt unieke_id='1'/></mivconfig>", "root element"),
        (b"<html><body>503 Service Unavailable</body></html>", "root element is <html>"),
        (
            b"<miv><tijd_publicatie>yesterday</tijd_publicatie></miv>",
            "tijd_publicatie> is not a valid timestamp",
        ),
    ],
)
def test_bad_documents_raise_one_clear_error(document: bytes, message: str) -> None:
    with pytest.raises(FeedParseError, match=re.escape(message)) as info:
        parse(document)
    assert isinstance(info.value, TrafficlakeError)
    assert "\n" not in str(info.value)


def test_document_without_meetpunten_gives_an_empty_table() -> None:
    feed = parse(b"<miv><tijd_publicatie>2026-07-01T08:39:54+02:00</tijd_publicatie></miv>")
    assert feed.events.num_rows == 0 and feed.events.schema.equals(EVENT_SCHEMA)
    assert feed.tijd_publicatie == epoch("2026-07-01T06:39:54+00:00") and feed.errors == []


def test_every_source_type(tmp_path: Path) -> None:
    data = (FIXTURES / "feed_basic.xml").read_bytes()
    path = tmp_path / "doc.xml"
    path.write_bytes(data)
    expected = parse(data).events
    for source in (data, data.decode(), path, str(path), io.BytesIO(data)):
        assert parse_document(source, latest=LATEST).events.equals(expected)
    with pytest.raises(FeedParseError, match="cannot read"):
        parse(tmp_path / "missing.xml")


@pytest.mark.parametrize("clean", [True, False])
@pytest.mark.parametrize(
    "t", [epoch("2026-01-14T07:30:00+00:00"), epoch("2026-07-01T16:45:00+00:00")]
)
def test_simulator_round_trip_is_exact(clean: bool, t: int) -> None:
    sim = Simulator(seed=7, lanes=600, clean=clean)
    for batch in sim.minutes(t, 3):
        data = sim.to_xml(batch)
        assert scan_canonical(data) is not None
        feed = parse(data)
        assert feed.errors == []
        assert feed.events.equals(pa.Table.from_batches([batch]))
        assert feed.tijd_laatste_config_wijziging == sim.tijd_laatste_config_wijziging


def test_lxml_path_gives_the_same_events_as_the_fast_path() -> None:
    sim = Simulator(seed=3, lanes=300)
    data = sim.to_xml(sim.minute(epoch("2026-03-02T08:00:00+00:00")))
    # a comment before the root: same XML meaning, but not the canonical head
    other = data.replace(b"<miv ", b"<!-- relayed -->\n<miv ", 1)
    assert scan_canonical(other) is None
    assert parse(other).events.equals(parse(data).events)


def test_non_canonical_meetpunten_amid_canonical_ones() -> None:
    sim = Simulator(seed=3, lanes=300)
    batch = sim.minute(epoch("2026-03-02T08:00:00+00:00"))
    data = sim.to_xml(batch)
    blocks = data.split(b"    <meetpunt ")
    # lane 10: attributes swapped; lane 11: a comment inside; lane 40: no rekendata;
    # (blocks[i] is lane i - 1) a comment after lane 99; the last lane: a space in a tag
    blocks[10] = re.sub(
        rb'beschrijvende_id="([^"]*)" unieke_id="([^"]*)">',
        rb'unieke_id="\2" beschrijvende_id="\1">',
        blocks[10],
    )
    blocks[11] = blocks[11].replace(b"<defect>", b"<!-- hi --><defect>")
    blocks[40] = re.sub(rb"\s*<rekendata>.*</rekendata>", b"", blocks[40], flags=re.S)
    blocks[100] += b"<!-- gap -->\n"
    blocks[-1] = blocks[-1].replace(b"<lve_nr>", b"<lve_nr >")
    mixed = b"    <meetpunt ".join(blocks)
    canonical = scan_canonical(mixed)
    assert canonical is not None
    n = batch.num_rows
    assert [before for before, _ in canonical.gaps] == [9, 37, 97, n - 4]  # 9+10: one stretch
    feed = parse(mixed)
    assert feed.errors == []
    expected = pa.Table.from_batches([batch]).to_pylist()
    for name in (
        "rekendata_bezettingsgraad",
        "rekendata_beschikbaarheidsgraad",
        "rekendata_onrustigheid",
    ):
        expected[39][name] = None
    assert feed.events.to_pylist() == expected
    assert feed.events.equals(texts_via_lxml(mixed))


def texts_via_lxml(data: bytes) -> pa.Table:
    """The same document through the lxml path only (a head the fast path refuses)."""
    return parse(data.replace(b"<miv ", b"<!-- x -->\n<miv ", 1)).events


def test_one_bad_value_in_a_full_document_costs_one_meetpunt() -> None:
    sim = Simulator(seed=5, lanes=200, clean=True)
    batch = sim.minute(epoch("2026-03-02T08:00:00+00:00"))
    data = sim.to_xml(batch)
    victim = batch.column("unieke_id")[17].as_py()
    block = re.search(rb'<meetpunt [^>]*unieke_id="%d">' % victim, data)
    assert block is not None
    start = data.index(b"<verkeersintensiteit>", block.end())
    end = data.index(b"</verkeersintensiteit>", start)
    for bad, reason in ((b"x7", "is not an integer: 'x7'"), (b"-3", "negative: '-3'")):
        broken = data[: start + len(b"<verkeersintensiteit>")] + bad + data[end:]
        feed = parse(broken)
        assert [e.unieke_id for e in feed.errors] == [str(victim)]
        assert feed.errors[0].reason == f"verkeersintensiteit_klasse1 {reason}"
        assert f'unieke_id="{victim}"' in feed.errors[0].raw
        keep = pa.compute.not_equal(batch.column("unieke_id"), victim)
        assert feed.events.equals(pa.Table.from_batches([batch.filter(keep)]))


def _json_to_xml(lines: list[dict[str, object]]) -> bytes:
    """Rebuild the real minute's XML from its JSON lines (the excerpt's format)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<miv schemaVersion="1.0.0">\n'
        "<tijd_publicatie>2017-04-27T14:39:54.399+01:00</tijd_publicatie>\n"
        "<tijd_laatste_config_wijziging>2017-02-17T14:42:06+01:00</tijd_laatste_config_wijziging>\n"
    ]
    for mp in lines:
        out.append(
            f"<meetpunt beschrijvende_id={quoteattr(str(mp['beschrijvende_id']))} "
            f"unieke_id={quoteattr(str(mp['unieke_id']))}>"
        )
        for key in ("lve_nr", "tijd_waarneming", "tijd_laatst_gewijzigd", "actueel_publicatie"):
            out.append(f"<{key}>{mp[key]}</{key}>")
        for key in ("beschikbaar", "defect", "geldig"):
            out.append(f"<{key}>{mp[key]}</{key}>")
        for md in mp["meetdata"]:  # type: ignore[attr-defined]
            out.append(f'<meetdata klasse_id="{md["klasse_id"]}">')
            for key in ("verkeersintensiteit", "voertuigsnelheid_rekenkundig"):
                out.append(f"<{key}>{md[key]}</{key}>")
            out.append(
                f"<voertuigsnelheid_harmonisch>{md['voertuigsnelheid_harmonisch']}"
                "</voertuigsnelheid_harmonisch></meetdata>"
            )
        out.append("<rekendata>")
        for key, value in mp["rekendata"].items():  # type: ignore[attr-defined]
            out.append(f"<{key}>{value}</{key}>")
        out.append("</rekendata></meetpunt>\n")
    out.append("</miv>\n")
    return "".join(out).encode()


def test_real_minute_parses_to_exactly_the_published_values() -> None:
    lines = [json.loads(line) for line in REAL.read_text().splitlines() if line.strip()]
    data = _json_to_xml(lines)
    assert scan_canonical(data) is not None
    feed = parse_document(data, latest=epoch("2017-05-01T00:00:00+00:00"))
    assert feed.errors == []
    assert feed.events.num_rows == len(lines) == 100
    for mp, row in zip(lines, feed.events.to_pylist(), strict=True):
        for key in ("beschrijvende_id", "unieke_id", "lve_nr", "actueel_publicatie"):
            assert str(row[key]) == mp[key]
        for key in ("beschikbaar", "defect", "geldig"):
            assert str(row[key]) == mp[key]
        for key in ("tijd_waarneming", "tijd_laatst_gewijzigd"):
            assert row[key] == epoch(mp[key])
        for md in mp["meetdata"]:
            k = md["klasse_id"]
            for key in ("verkeersintensiteit", "voertuigsnelheid_rekenkundig"):
                assert str(row[f"{key}_klasse{k}"]) == md[key]
            assert (
                str(row[f"voertuigsnelheid_harmonisch_klasse{k}"])
                == md["voertuigsnelheid_harmonisch"]
            )
        for key, value in mp["rekendata"].items():
            assert str(row[f"rekendata_{key}"]) == value
    rows = feed.events.to_pylist()
    all254 = sum(
        all(r[f"voertuigsnelheid_harmonisch_klasse{k}"] == 254 for k in CLASSES) for r in rows
    )
    stale = sum(r["actueel_publicatie"] == 0 for r in rows)
    defects = Counter(r["defect"] for r in rows)
    # what the excerpt holds (tests/fixtures/miv/README.md: picked for these cases)
    assert (all254, stale, defects[1], defects[2]) == (9, 8, 5, 0)


def test_xml_writer_leaves_out_null_values() -> None:
    partial = parse(FIXTURES / "feed_tricky.xml").events  # absent classes, rekendata, ...
    assert partial.column("rekendata_bezettingsgraad").null_count > 0
    data = Simulator(lanes=5).to_xml(partial)
    assert b"<tijd_laatst_gewijzigd>" not in data.split(b"</meetpunt>")[0]
    assert parse(data).events.equals(partial)
