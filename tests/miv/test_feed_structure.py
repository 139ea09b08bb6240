"""XML the XSD does not allow is quarantined with its reason; header times are range-checked.

Each case is checked in a canonical document (the fast path hands the odd block to lxml as a
gap) and in the same document through the lxml path only.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from trafficlake.miv.fastpath import scan_canonical
from trafficlake.miv.feed import FeedParseError, ParsedFeed, parse_document
from trafficlake.miv.simulator import Simulator

LATEST = 1893456000  # 2030-01-01
MINUTE = int(datetime.fromisoformat("2026-03-02T08:00:00+00:00").timestamp())


def document(lanes: int = 3) -> tuple[bytes, list[bytes]]:
    sim = Simulator(seed=7, lanes=lanes, clean=True)
    data = sim.to_xml(sim.minute(MINUTE))
    head, *blocks = data.split(b"    <meetpunt ")
    return head, [b"    <meetpunt " + b for b in blocks]


def both_paths(data: bytes) -> list[ParsedFeed]:
    """The document as given, and through the lxml path only (a head the fast path refuses)."""
    lxml_only = data.replace(b"<miv ", b"<!-- x -->\n<miv ", 1)
    assert scan_canonical(lxml_only) is None
    return [parse_document(data, latest=LATEST), parse_document(lxml_only, latest=LATEST)]


def uid_of(block: bytes) -> str:
    match = re.search(rb'unieke_id="([0-9]+)"', block)
    assert match is not None
    return match.group(1).decode()


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda b: b.replace(b"<lve_nr>", b"<lve_nr><x/>", 1), "<lve_nr> holds a child element"),
        (
            lambda b: re.sub(rb"<lve_nr>([0-9]+)</lve_nr>", rb"<lve_nr>1<x/>\1</lve_nr>", b),
            "<lve_nr> holds a child element <x>: mixed content",
        ),
        (
            lambda b: b.replace(b"<defect>", b"<lve_nr>55</lve_nr><defect>", 1),
            "duplicate <lve_nr>",
        ),
        (
            lambda b: b.replace(
                b'<meetdata klasse_id="3">',
                b'<meetdata klasse_id="2"></meetdata><meetdata klasse_id="3">',
                1,
            ),
            'duplicate <meetdata klasse_id="2">',
        ),
        (
            lambda b: b.replace(b"<defect>", b"stray<defect>", 1),
            "text 'stray' between elements: mixed content",
        ),
        (
            lambda b: b.replace(b"<defect>", b"<defekt>1</defekt><defect>", 1),
            "unexpected element <defekt> in <meetpunt>",
        ),
        (
            lambda b: b.replace(
                b"<onrustigheid>", b"<onrustigheid>7</onrustigheid><onrustigheid>", 1
            ),
            "duplicate <onrustigheid> in <rekendata>",
        ),
        (
            lambda b: b.replace(b"<verkeersintensiteit>", b"<snelheid/><verkeersintensiteit>", 1),
            "unexpected element <snelheid> in <meetdata>",
        ),
    ],
    ids=["child", "mixed", "dup-scalar", "dup-class", "text", "unknown", "dup-reken", "unknown-md"],
)
def test_structure_the_xsd_forbids_quarantines_the_meetpunt(edit, reason) -> None:  # type: ignore[no-untyped-def]
    head, blocks = document()
    blocks[1] = edit(blocks[1])
    victim = uid_of(blocks[1])
    for feed in both_paths(head + b"".join(blocks)):
        assert [e.unieke_id for e in feed.errors] == [victim]
        assert reason in feed.errors[0].reason
        assert feed.errors[0].raw.startswith("<meetpunt")
        assert feed.events.num_rows == 2 and victim not in {
            str(u) for u in feed.events.column("unieke_id").to_pylist()
        }


def test_a_meetpunt_wrapped_in_another_element_is_quarantined_not_dropped() -> None:
    head, blocks = document()
    blocks[1] = b"<wrapper>" + blocks[1] + b"</wrapper>"
    victim = uid_of(blocks[1])
    for feed in both_paths(head + b"".join(blocks)):
        assert feed.events.num_rows + len(feed.errors) == 3
        assert [(e.unieke_id, e.reason) for e in feed.errors] == [
            (victim, "meetpunt nested in <wrapper>: allowed only directly under <miv>")
        ]
        assert (
            feed.errors[0].raw.startswith("<meetpunt ")
            and f'unieke_id="{victim}"' in feed.errors[0].raw
        )


def test_a_meetpunt_inside_a_meetpunt_quarantines_both_with_their_content() -> None:
    head, blocks = document(lanes=4)
    inner = blocks.pop(2).strip()
    blocks[1] = blocks[1].replace(b"<defect>", inner + b"<defect>", 1)
    for feed in both_paths(head + b"".join(blocks)):
        assert feed.events.num_rows == 2
        reasons = {e.unieke_id: e.reason for e in feed.errors}
        assert reasons == {
            uid_of(inner): "meetpunt nested in <meetpunt>: allowed only directly under <miv>",
            uid_of(blocks[1]): "unexpected element <meetpunt> in <meetpunt>",
        }
        outer = next(e for e in feed.errors if e.unieke_id == uid_of(blocks[1]))
        assert "<lve_nr>" in outer.raw and "<defect>" in outer.raw  # nothing cut away


def test_a_publication_time_outside_the_window_refuses_the_document() -> None:
    head, blocks = document()
    data = re.sub(
        rb"<tijd_publicatie>[^<]*</tijd_publicatie>",
        b"<tijd_publicatie>9999-12-31T23:59:59Z</tijd_publicatie>",
        head + b"".join(blocks),
    )
    for text in (data, data.replace(b"<miv ", b"<!-- x -->\n<miv ", 1)):
        with pytest.raises(FeedParseError) as info:
            parse_document(text, latest=LATEST)
        assert str(info.value) == (
            "<tijd_publicatie> outside the accepted window "
            "2000-01-01T00:00:00Z..2030-01-01T00:00:00Z: 9999-12-31T23:59:59Z"
        )


def test_the_earliest_bound_refuses_old_documents_and_rows() -> None:
    head, blocks = document()
    data = head + b"".join(blocks)
    with pytest.raises(FeedParseError, match="tijd_publicatie> outside the accepted window"):
        parse_document(data, latest=LATEST, earliest=MINUTE + 3600)
    feed = parse_document(data, latest=LATEST, earliest=MINUTE + 60)  # published at +114 s
    assert feed.events.num_rows == 0 and len(feed.errors) == 3
    assert all("tijd_waarneming outside the accepted window" in e.reason for e in feed.errors)


def test_rows_more_than_a_day_after_their_publication_are_quarantined() -> None:
    head, blocks = document()
    blocks[0] = re.sub(
        rb"<tijd_waarneming>2026-03-02", b"<tijd_waarneming>2026-03-04", blocks[0], count=1
    )
    for feed in both_paths(head + b"".join(blocks)):
        assert [e.unieke_id for e in feed.errors] == [uid_of(blocks[0])]
        assert "..2026-03-03T08:01:54Z" in feed.errors[0].reason


def test_a_repeated_header_element_refuses_the_document() -> None:
    head, blocks = document()
    twice = re.sub(rb"(<tijd_publicatie>[^<]*</tijd_publicatie>)", rb"\1\1", head)
    with pytest.raises(FeedParseError, match="duplicate <tijd_publicatie>"):
        parse_document(twice + b"".join(blocks), latest=LATEST)
