"""Mutated documents: never a crash, and the fast path always agrees with the lxml path."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trafficlake.miv.feed import FeedParseError, ParsedFeed, parse_document
from trafficlake.miv.simulator import Simulator

LATEST = 1893456000
_sim = Simulator(seed=2, lanes=6)
DOCUMENT = _sim.to_xml(_sim.minute(1767598200))
NASTY = [
    b"<",
    b">",
    b"&",
    b"&amp;",
    b'"',
    b"-",
    b"x",
    b"\x01",
    b"\xff",
    b"\xc3\xa9",
    b"\xef\xbf\xbf",
    b"<!-- c -->",
    b"<![CDATA[7]]>",
    b"]]>",
    b" ",
    b"\r\n",
    b"0",
    b"99999999999",
    b"+",
]


def outcome(data: bytes) -> tuple[str, object]:
    try:
        feed = parse_document(data, latest=LATEST)
    except FeedParseError:
        return ("error", None)
    assert isinstance(feed, ParsedFeed)
    return (
        "ok",
        (
            feed.events,
            [(e.reason, e.unieke_id, e.raw) for e in feed.errors],
            feed.tijd_publicatie,
            feed.tijd_laatste_config_wijziging,
        ),
    )


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = DOCUMENT
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        cut = draw(st.integers(0, 12))
        insert = draw(st.sampled_from(NASTY)) if draw(st.booleans()) else b""
        data = data[:at] + insert + data[at + cut :]
    return data


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_never_crash_and_both_paths_agree(data: bytes) -> None:
    fast = outcome(data)
    forced = data.replace(b"<miv ", b"<!-- lxml -->\n<miv ", 1)
    if forced == data:
        return  # the root start tag itself was mutated: only one path exists
    slow = outcome(forced)
    assert fast[0] == slow[0]
    if fast[0] == "ok":
        (events, errors, pub, cfg), (events2, errors2, pub2, cfg2) = fast[1], slow[1]  # type: ignore[misc]
        assert events.equals(events2)
        assert errors == errors2 and pub == pub2 and cfg == cfg2
        assert events.num_rows + len(errors) <= data.count(b"<meetpunt")


@pytest.mark.parametrize("junk", NASTY)
def test_junk_in_each_value_position(junk: bytes) -> None:
    start = DOCUMENT.index(b"<verkeersintensiteit>") + len(b"<verkeersintensiteit>")
    data = DOCUMENT[:start] + junk + DOCUMENT[start:]
    assert outcome(data)[0] in ("ok", "error")


def test_white_space_before_the_xml_declaration_is_refused_on_both_paths() -> None:
    # Found by the fuzz test above: the fast path used to accept what lxml (rightly) refuses.
    data = b" " + DOCUMENT
    assert outcome(data)[0] == "error"
    assert outcome(data.replace(b"<miv ", b"<!-- lxml -->\n<miv ", 1))[0] == "error"
    assert outcome(DOCUMENT)[0] == "ok"
