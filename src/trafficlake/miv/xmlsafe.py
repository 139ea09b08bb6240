"""Safe, streaming XML reading shared by the feed and config parsers: the one owner of the
XML safety settings.

Every lxml parse in trafficlake uses :data:`SAFE_PARSER_OPTIONS` (entity resolution, DTD
loading, network access and huge trees switched off; comments and processing instructions
dropped): ``iterparse`` here, and :func:`safe_parser` for the fast path's fragments. A
document that declares a DTD (``<!DOCTYPE``, the carrier of entity bombs and external
entities) is rejected before anything is parsed.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from typing import BinaryIO

from lxml import etree

from trafficlake.errors import TrafficlakeError

SAFE_PARSER_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "load_dtd": False,
    "no_network": True,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


def safe_parser() -> etree.XMLParser:
    """An lxml parser with :data:`SAFE_PARSER_OPTIONS` (for ``etree.fromstring``)."""
    return etree.XMLParser(**SAFE_PARSER_OPTIONS)


class MivError(TrafficlakeError):
    """Base of the MIV source's errors (documents that do not parse, a server that fails)."""


class FeedParseError(MivError):
    """The document is not a well-formed, safe MIV document of the expected kind.

    ``document`` holds the offending bytes when the raiser had them (the HTTP client sets
    it), so a caller can quarantine the whole document.
    """

    def __init__(self, message: str, document: bytes | None = None) -> None:
        super().__init__(message)
        self.document = document


class TimestampError(ValueError):
    """A timestamp is not an ISO 8601 date-time with a UTC offset."""


_MARKERS = ("<!DOCTYPE", "<!ENTITY")
_UTF8_MARKERS = tuple(m.encode() for m in _MARKERS)
_WIDE_MARKERS = tuple(m.encode(enc) for m in _MARKERS for enc in ("utf-16-le", "utf-16-be"))


def declares_dtd(data: bytes) -> bool:
    """True when the document carries a DOCTYPE or ENTITY declaration (8- or 16-bit)."""
    if any(marker in data for marker in _UTF8_MARKERS):
        return True
    wide = b"\x00" in data[:4] or data[:2] in (b"\xff\xfe", b"\xfe\xff")
    return wide and any(marker in data for marker in _WIDE_MARKERS)


def read_source(source: bytes | str | os.PathLike[str] | BinaryIO) -> bytes:
    """The document's bytes. A ``str`` starting with ``<`` is XML text, otherwise a path."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str):
        if source.lstrip("\ufeff \t\r\n").startswith("<"):
            return source.encode("utf-8")
        source = os.fspath(source)
    if isinstance(source, os.PathLike | str):
        try:
            with open(source, "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise FeedParseError(f"cannot read {os.fspath(source)}: {exc.strerror}") from exc
    data = source.read()
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)


def _syntax_error(exc: etree.XMLSyntaxError) -> FeedParseError:
    msg = (exc.msg or str(exc)).splitlines()[0] if (exc.msg or str(exc)) else "malformed XML"
    line = exc.lineno or (exc.position[0] if exc.position else None)
    where = f" at line {line}" if line else ""
    return FeedParseError(f"malformed XML{where}: {msg}")


def iterparse_safely(
    source: bytes | str | os.PathLike[str] | BinaryIO, *, root: str, tags: tuple[str, ...]
) -> Iterator[etree._Element]:
    """Yield each completed element named in ``tags``; the caller clears it.

    Earlier siblings are removed as parsing proceeds, so memory stays flat. Raises
    :class:`FeedParseError` for empty, truncated, non-XML, DTD-carrying or wrong-root input.
    """
    data = read_source(source)
    if not data.strip():
        raise FeedParseError("empty document: no XML content")
    if declares_dtd(data):
        raise FeedParseError(
            "document declares a DTD or entities (<!DOCTYPE/<!ENTITY), refused for safety"
        )
    events = etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        tag=tags,
        **SAFE_PARSER_OPTIONS,
    )
    checked = False
    try:
        for _event, elem in events:
            if not checked:
                tree = elem.getroottree()
                _check_root(tree.getroot().tag, root)
                if tree.docinfo.doctype:
                    raise FeedParseError("document declares a DTD, refused for safety")
                checked = True
            yield elem
            parent = elem.getparent()
            if parent is not None and parent.tag not in tags:  # keep what an outer one holds
                while elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from None
    if not checked:
        _check_root(events.root.tag if events.root is not None else None, root)


def _check_root(tag: object, expected: str) -> None:
    if tag != expected:
        shown = tag if isinstance(tag, str) else "?"
        raise FeedParseError(f"not a MIV <{expected}> document: root element is <{shown}>")


@lru_cache(maxsize=4096)
def parse_timestamp(text: str | None) -> int:
    """ISO 8601 date-time with offset (``+01:00``, ``+02:00``, ``Z``, fractions) → epoch s UTC.

    Fractional seconds are floored. Raises :class:`TimestampError` when there is no offset or
    the text is not a date-time.
    """
    if text is None:
        raise TimestampError("missing timestamp")
    stripped = text.strip()
    try:
        dt = datetime.fromisoformat(stripped)
    except ValueError:
        raise TimestampError(f"not an ISO date-time: {stripped!r}") from None
    if dt.tzinfo is None or "T" not in stripped:
        raise TimestampError(f"timestamp without UTC offset: {stripped!r}")
    return math.floor(dt.timestamp())
