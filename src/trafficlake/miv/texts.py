"""Read the raw texts of a verkeersdata document, one row of 25 slots per ``<meetpunt>``.

Two readers fill the same structure: the canonical fast path (``fastpath.py``), whose
non-canonical stretches are parsed as small XML fragments, and the streaming lxml
``iterparse`` path for everything else. Conversion and validation happen later, column-wise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
from lxml import etree

from trafficlake.miv.fastpath import Canonical, scan_canonical
from trafficlake.miv.xmlsafe import (
    FeedParseError,
    TimestampError,
    iterparse_safely,
    parse_timestamp,
)
from trafficlake.schema import CLASSES

SCALARS = (
    "lve_nr",
    "tijd_waarneming",
    "tijd_laatst_gewijzigd",
    "actueel_publicatie",
    "beschikbaar",
    "defect",
    "geldig",
)
MEETDATA = ("verkeersintensiteit", "voertuigsnelheid_rekenkundig", "voertuigsnelheid_harmonisch")
REKENDATA = ("bezettingsgraad", "beschikbaarheidsgraad", "onrustigheid")
SLOTS: list[str] = list(SCALARS)
SLOTS += [f"{m}_klasse{k}" for k in CLASSES for m in MEETDATA]
SLOTS += [f"rekendata_{r}" for r in REKENDATA]
"""Event columns read from child elements, in the feed's (and the fast path's) order."""

_SCALAR_INDEX = {name: i for i, name in enumerate(SCALARS)}
_CLASS_BASE = {str(k): len(SCALARS) + 3 * i for i, k in enumerate(CLASSES)}
_MEETDATA_OFFSET = {m: i for i, m in enumerate(MEETDATA)}
_REKEN_INDEX = {r: len(SCALARS) + 15 + i for i, r in enumerate(REKENDATA)}
_FRAGMENT_PARSER = etree.XMLParser(
    resolve_entities=False,
    load_dtd=False,
    no_network=True,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)

Row = tuple[str | bytes | None, ...]


@dataclass
class DocumentTexts:
    """Header timestamps, per-column string arrays, and rows already known to be bad."""

    published: int | None
    config_changed: int | None
    uids: pa.Array
    bids: pa.Array
    columns: list[pa.Array]
    bad_rows: dict[int, str] = field(default_factory=dict)


def header_time(tag: str, text: str | None) -> int:
    try:
        return parse_timestamp(text)
    except TimestampError as exc:
        raise FeedParseError(f"<{tag}> is not a valid timestamp: {exc}") from None


def _meetpunt(elem: etree._Element) -> tuple[list[str | None], str | None]:
    """The 25 texts of one ``<meetpunt>`` and, if it is structurally bad, the reason."""
    row: list[str | None] = [None] * len(SLOTS)
    problem = None
    for child in elem:
        ctag = child.tag
        i = _SCALAR_INDEX.get(ctag)  # type: ignore[arg-type]
        if i is not None:
            row[i] = child.text
        elif ctag == "meetdata":
            klasse = child.get("klasse_id")
            base = _CLASS_BASE.get(klasse)  # type: ignore[arg-type]
            if base is None:
                problem = problem or f"meetdata klasse_id not 1..5: {klasse!r}"
                continue
            for g in child:
                o = _MEETDATA_OFFSET.get(g.tag)  # type: ignore[arg-type]
                if o is not None:
                    row[base + o] = g.text
        elif ctag == "rekendata":
            for g in child:
                j = _REKEN_INDEX.get(g.tag)  # type: ignore[arg-type]
                if j is not None:
                    row[j] = g.text
    return row, problem


def _string_arrays(
    uids: list[str | bytes | None], bids: list[str | bytes | None], rows: list[Row]
) -> tuple[pa.Array, pa.Array, list[pa.Array]] | None:
    kind = pa.binary() if any(isinstance(u, bytes) for u in uids) else pa.string()
    try:
        columns = (
            [pa.array(c, kind).cast(pa.string()) for c in zip(*rows, strict=True)]
            if rows
            else [pa.array([], pa.string()) for _ in SLOTS]
        )
        return (
            pa.array(uids, kind).cast(pa.string()),
            pa.array(bids, kind).cast(pa.string()),
            columns,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None  # not valid UTF-8, or mixed: let the XML path decide


def _fragment_rows(
    gap: bytes,
) -> list[tuple[str | None, str | None, list[str | None], str | None]] | None:
    """Parse a stretch between canonical blocks; ``None`` unless it is only ``<meetpunt>``s."""
    try:
        root = etree.fromstring(b"<miv>" + gap + b"</miv>", _FRAGMENT_PARSER)
    except etree.XMLSyntaxError:
        return None
    if (root.text or "").strip():
        return None
    out = []
    for elem in root:
        if elem.tag != "meetpunt" or (elem.tail or "").strip():
            return None
        row, problem = _meetpunt(elem)
        out.append((elem.get("unieke_id"), elem.get("beschrijvende_id"), row, problem))
    return out


def _from_canonical(canonical: Canonical) -> DocumentTexts | None:
    uids: list[str | bytes | None] = []
    bids: list[str | bytes | None] = []
    rows: list[Row] = []
    bad: dict[int, str] = {}
    if not canonical.gaps:
        blocks = canonical.blocks
        bids = [b[1] for b in blocks]
        uids = [b[2] for b in blocks]
        rows = [b[3:] for b in blocks]
    else:
        gaps = dict(canonical.gaps)
        for i in range(len(canonical.blocks) + 1):
            if i in gaps:
                fragment = _fragment_rows(gaps[i])
                if fragment is None:
                    return None
                for uid, bid, row, problem in fragment:
                    if problem:
                        bad[len(rows)] = problem
                    uids.append(None if uid is None else uid.encode())
                    bids.append(None if bid is None else bid.encode())
                    rows.append(tuple(None if t is None else t.encode() for t in row))
            if i < len(canonical.blocks):
                block = canonical.blocks[i]
                bids.append(block[1])
                uids.append(block[2])
                rows.append(block[3:])
    arrays = _string_arrays(uids, bids, rows)
    if arrays is None:
        return None
    changed = canonical.config_changed
    return DocumentTexts(
        published=header_time("tijd_publicatie", canonical.published),
        config_changed=None
        if changed is None
        else header_time("tijd_laatste_config_wijziging", changed),
        uids=arrays[0],
        bids=arrays[1],
        columns=arrays[2],
        bad_rows=bad,
    )


def _from_xml(data: bytes) -> DocumentTexts:
    published: int | None = None
    config_changed: int | None = None
    uids: list[str | bytes | None] = []
    bids: list[str | bytes | None] = []
    rows: list[Row] = []
    bad: dict[int, str] = {}
    for elem in iterparse_safely(
        data, root="miv", tags=("meetpunt", "tijd_publicatie", "tijd_laatste_config_wijziging")
    ):
        parent = elem.getparent()
        if parent is None or parent.getparent() is not None:
            continue  # only children of the root count
        tag = elem.tag
        if tag == "tijd_publicatie":
            published = header_time(tag, elem.text)
        elif tag == "tijd_laatste_config_wijziging":
            config_changed = header_time(tag, elem.text)
        else:
            row, problem = _meetpunt(elem)
            if problem:
                bad[len(rows)] = problem
            uids.append(elem.get("unieke_id"))
            bids.append(elem.get("beschrijvende_id"))
            rows.append(tuple(row))
            elem.clear()
    arrays = _string_arrays(uids, bids, rows)
    assert arrays is not None  # lxml hands over valid str
    return DocumentTexts(published, config_changed, arrays[0], arrays[1], arrays[2], bad)


def scan_document(data: bytes) -> DocumentTexts:
    """The texts of every ``<meetpunt>`` child of ``<miv>``, in document order.

    Raises :class:`FeedParseError` for unsafe, malformed or wrong-root documents.
    """
    canonical = scan_canonical(data)
    texts = _from_canonical(canonical) if canonical is not None else None
    return texts if texts is not None else _from_xml(data)
