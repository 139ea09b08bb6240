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
    safe_parser,
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
_FRAGMENT_PARSER = safe_parser()

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


def _leaf_text(elem: etree._Element, where: str) -> tuple[str | None, str | None]:
    """A value element's text, or the reason it is not a plain value (mixed content)."""
    if len(elem):
        return None, f"<{where}> holds a child element <{elem[0].tag}>: mixed content"
    return elem.text, None


def _stray_text(elem: etree._Element) -> str | None:
    """Text directly inside a container element (``<meetpunt>``, ``<meetdata>``...)."""
    if (elem.text or "").strip():
        return elem.text.strip()  # type: ignore[union-attr]
    for child in elem:
        if (child.tail or "").strip():
            return child.tail.strip()  # type: ignore[union-attr]
    return None


def _meetpunt(elem: etree._Element) -> tuple[list[str | None], str | None]:
    """The 25 texts of one ``<meetpunt>`` and, if it is structurally bad, the reason.

    Structure the XSD does not allow is a reason, never a silently changed value: an unknown,
    nested or repeated element, a value element holding elements (mixed content), text
    between elements, or a ``<meetdata>`` ``klasse_id`` outside 1..5.
    """
    row: list[str | None] = [None] * len(SLOTS)
    problems: list[str] = []
    seen: set[str] = set()

    def once(name: str) -> bool:
        if name in seen:
            problems.append(f"duplicate <{name}>")
            return False
        seen.add(name)
        return True

    def value(slot: int, child: etree._Element, where: str) -> None:
        text, problem = _leaf_text(child, where)
        if problem:
            problems.append(problem)
        row[slot] = text

    stray = _stray_text(elem)
    if stray is not None:
        problems.append(f"text {stray[:40]!r} between elements: mixed content")
    for child in elem:
        ctag = child.tag
        i = _SCALAR_INDEX.get(ctag)  # type: ignore[arg-type]
        if i is not None:
            if once(ctag):  # type: ignore[arg-type]
                value(i, child, ctag)  # type: ignore[arg-type]
        elif ctag == "meetdata":
            klasse = child.get("klasse_id")
            base = _CLASS_BASE.get(klasse)  # type: ignore[arg-type]
            if base is None:
                problems.append(f"meetdata klasse_id not 1..5: {klasse!r}")
                continue
            if once(f'meetdata klasse_id="{klasse}"'):
                _group(child, "meetdata", problems, _MEETDATA_OFFSET, base, row)
        elif ctag == "rekendata":
            if once("rekendata"):
                _group(child, "rekendata", problems, _REKEN_INDEX, 0, row)
        else:
            problems.append(f"unexpected element <{ctag}> in <meetpunt>")
    return row, (problems[0] if problems else None)


def _group(
    elem: etree._Element,
    where: str,
    problems: list[str],
    slots: dict[str, int],
    base: int,
    row: list[str | None],
) -> None:
    """Fill the slots of a ``<meetdata>`` or ``<rekendata>`` group, noting what is not allowed."""
    stray = _stray_text(elem)
    if stray is not None:
        problems.append(f"text {stray[:40]!r} in <{where}>: mixed content")
    seen: set[str] = set()
    for g in elem:
        o = slots.get(g.tag)  # type: ignore[arg-type]
        if o is None:
            problems.append(f"unexpected element <{g.tag}> in <{where}>")
        elif g.tag in seen:
            problems.append(f"duplicate <{g.tag}> in <{where}>")
        else:
            seen.add(g.tag)  # type: ignore[arg-type]
            text, problem = _leaf_text(g, f"{where}/{g.tag}")
            if problem:
                problems.append(problem)
            row[base + o] = text


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
    if sum(1 for _ in root.iter("meetpunt")) != len(root):
        return None  # a nested <meetpunt>: the XML path quarantines it in document order
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
    seen: set[str] = set()
    for elem in iterparse_safely(
        data, root="miv", tags=("meetpunt", "tijd_publicatie", "tijd_laatste_config_wijziging")
    ):
        parent = elem.getparent()
        nested = parent is None or parent.getparent() is not None
        tag = elem.tag
        if tag == "meetpunt":
            row, problem = _meetpunt(elem)
            if nested:  # every <meetpunt> counts: one the XSD does not allow is quarantined
                where = "?" if parent is None else parent.tag
                problem = f"meetpunt nested in <{where}>: allowed only directly under <miv>"
            if problem:
                bad[len(rows)] = problem
            uids.append(elem.get("unieke_id"))
            bids.append(elem.get("beschrijvende_id"))
            rows.append(tuple(row))
            if not nested:
                elem.clear()
        elif not nested:
            if tag in seen:
                raise FeedParseError(f"duplicate <{tag}> in the document header")
            seen.add(tag)  # type: ignore[arg-type]
            if tag == "tijd_publicatie":
                published = header_time(tag, elem.text)
            else:
                config_changed = header_time(tag, elem.text)  # type: ignore[arg-type]
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
