"""A strict fast path for MIV documents in the feed's own canonical layout.

The real feed (and the simulator) always write the same element sequence. When a document
matches that layout — an XML 1.0 UTF-8 prolog, a ``<miv>`` start tag that lxml accepts, the
header timestamps, then ``<meetpunt>`` blocks back to back with every element present,
integer texts of plain digits, a printable-ASCII ``beschrijvende_id`` and no entity
references, CDATA, comments or DTD — its texts are read with one compiled regular expression
per block instead of an XML tree. The
grammar is a strict subset of XML, so what it accepts is well-formed and means the same as
under an XML parser. Stretches between canonical blocks (a lane without ``<rekendata>``, a
comment, a bad value) are handed back as gaps for the caller to parse with lxml; a document
whose head or tail is not canonical returns ``None`` and the caller takes the lxml path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from trafficlake.schema import CLASSES

_INT = rb"(-?[0-9]{1,18})"
_TS = rb"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{8,}(?:Z|[+-][0-9]{2}:[0-9]{2}))"
_WS = rb"[ \t\r\n]*"


def _element(tag: str, value: bytes = _INT) -> bytes:
    t = tag.encode()
    return _WS + b"<" + t + b">" + value + b"</" + t + b">"


_BLOCK_PARTS = [
    _WS
    + rb'<meetpunt beschrijvende_id="([\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\x7e]*)" unieke_id="([0-9]{1,10})">',
    _element("lve_nr"),
    _element("tijd_waarneming", _TS),
    _element("tijd_laatst_gewijzigd", _TS),
    _element("actueel_publicatie"),
    _element("beschikbaar"),
    _element("defect"),
    _element("geldig"),
]
for _k in CLASSES:
    _BLOCK_PARTS += [
        _WS + f'<meetdata klasse_id="{_k}">'.encode(),
        _element("verkeersintensiteit"),
        _element("voertuigsnelheid_rekenkundig"),
        _element("voertuigsnelheid_harmonisch"),
        _WS + b"</meetdata>",
    ]
_BLOCK_PARTS += [
    _WS + b"<rekendata>",
    _element("bezettingsgraad"),
    _element("beschikbaarheidsgraad"),
    _element("onrustigheid"),
    _WS + b"</rekendata>",
    _WS + b"</meetpunt>",
]
BLOCK = re.compile(b"(" + b"".join(_BLOCK_PARTS) + b")")
HEAD = re.compile(
    rb"(?:\xef\xbb\xbf)?"  # no white space before an XML declaration (XML 1.0 §2.8)
    + rb'(?:<\?xml version="1\.0"(?: encoding="[Uu][Tt][Ff]-?8")?(?: standalone="(?:yes|no)")?'
    + _WS
    + rb"\?>)?"
    + _WS
    + rb"(<miv(?:[ \t\r\n][^<>&]*)?>)"
    + _element("tijd_publicatie", _TS)
    + rb"(?:"
    + _element("tijd_laatste_config_wijziging", _TS)
    + rb")?"
)
TAIL = re.compile(rb"</miv>" + _WS + rb"\Z")

MAX_GAPS = 64
"""More non-canonical stretches than this (or more than half the body): take the lxml path."""


@dataclass
class Canonical:
    """What the fast path read: header texts, the canonical blocks and the stretches between.

    ``blocks`` hold ``(whole block, beschrijvende_id, unieke_id, 25 texts...)`` as bytes;
    ``gaps`` hold ``(number of blocks before it, bytes)`` for each non-whitespace stretch that
    is not a canonical block (the caller parses those with lxml).
    """

    published: str
    config_changed: str | None
    blocks: list[tuple[bytes, ...]]
    gaps: list[tuple[int, bytes]]


def scan_canonical(data: bytes) -> Canonical | None:
    """Read a document in the feed's canonical layout, or ``None`` when it is not."""
    head = HEAD.match(data)
    if head is None:
        return None
    try:
        root = etree.fromstring(head.group(1) + b"</miv>")
    except etree.XMLSyntaxError:
        return None
    if root.tag != "miv" or None in root.nsmap:
        return None  # a default namespace changes every tag: not the canonical layout
    start = head.end()
    end = data.rfind(b"</miv>")
    if end < start or TAIL.match(data, end) is None:
        return None
    while end > start and data[end - 1 : end] in (b" ", b"\t", b"\r", b"\n"):
        end -= 1
    published = head.group(2).decode()
    changed = head.group(3).decode() if head.group(3) is not None else None
    blocks = BLOCK.findall(data, start, end)
    # non-overlapping matches inside [start, end) whose lengths add up to it tile it exactly
    if sum(len(b[0]) for b in blocks) == end - start:
        return Canonical(published, changed, blocks, [])
    blocks, gaps, pos = [], [], start
    for m in BLOCK.finditer(data, start, end):
        if data[pos : m.start()].strip():
            gaps.append((len(blocks), data[pos : m.start()]))
        blocks.append(m.groups())
        pos = m.end()
    if data[pos:end].strip():
        gaps.append((len(blocks), data[pos:end]))
    if len(gaps) > MAX_GAPS or 2 * sum(len(gap) for _, gap in gaps) > end - start:
        return None  # mostly non-canonical: the streaming lxml path is the better reader
    return Canonical(published, changed, blocks, gaps)
