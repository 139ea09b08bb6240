"""Firehose-style S3 prefixes: ``!{timestamp:yyyy}``, ``!{firehose:random-string}``, ...

A :class:`Prefix` is parsed once (at stream creation, so a bad expression fails early) and then
evaluated for each delivered file on the arrival time of the file's oldest record, in UTC, with
the letters of Java's ``DateTimeFormatter`` (``yyyy``, ``MM``, ``M``, ``dd``, ``d``, ``HH``,
``H``, ``mm``, ``ss``, ...). ``!{firehose:error-output-type}`` is only allowed in an error prefix.
"""

from __future__ import annotations

import re
import secrets
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from trafficlake.delivery.datepattern import UnterminatedQuoteError, split_pattern
from trafficlake.delivery.errors import DeliveryError


class InvalidPrefixError(DeliveryError):
    """A prefix holds an expression Firehose would reject."""


_EXPR = re.compile(r"!\{([^}]*)\}")
_RANDOM_ALPHABET = string.ascii_letters + string.digits
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

Formatter = Callable[[datetime], str]


def _number(get: Callable[[datetime], int], width: int) -> Formatter:
    return lambda t: str(get(t)).zfill(width)


def _letter(letter: str, count: int, pattern: str) -> Formatter:
    """One run of a pattern letter, as java.time.format.DateTimeFormatter prints it."""
    if letter in "yu":
        if count == 2:
            return lambda t: str(t.year % 100).zfill(2)
        return _number(lambda t: t.year, count)
    if letter in "ML":
        if count <= 2:
            return _number(lambda t: t.month, count)
        if count == 3:
            return lambda t: _MONTHS[t.month - 1][:3]
        if count == 4:
            return lambda t: _MONTHS[t.month - 1]
    simple: dict[str, tuple[Callable[[datetime], int], int]] = {
        "d": (lambda t: t.day, 2),
        "H": (lambda t: t.hour, 2),
        "k": (lambda t: t.hour or 24, 2),
        "h": (lambda t: (t.hour % 12) or 12, 2),
        "K": (lambda t: t.hour % 12, 2),
        "m": (lambda t: t.minute, 2),
        "s": (lambda t: t.second, 2),
        "D": (lambda t: t.timetuple().tm_yday, 3),
        "w": (lambda t: t.isocalendar().week, 2),
    }
    if letter in simple:
        get, max_width = simple[letter]
        if count <= max_width:
            return _number(get, count)
    if letter == "S":
        return lambda t: str(t.microsecond).zfill(6)[:count].ljust(count, "0")
    if letter == "E":
        if count <= 3:
            return lambda t: _DAYS[t.weekday()][:3]
        if count == 4:
            return lambda t: _DAYS[t.weekday()]
    if letter == "a" and count == 1:
        return lambda t: "AM" if t.hour < 12 else "PM"
    raise InvalidPrefixError(
        f"unsupported timestamp pattern {letter * count!r} in !{{timestamp:{pattern}}}"
    )


def _const(text: str) -> Formatter:
    return lambda t: text


Part = Callable[[datetime, str, Mapping[str, str]], str]
"""One piece of a prefix: (arrival time, error-output-type, partition keys) → text."""


def _literal(text: str) -> Part:
    return lambda t, e, k: text


def _timestamp(fmt: Formatter) -> Part:
    return lambda t, e, k: fmt(t)


def _partition_key(name: str) -> Part:
    return lambda t, e, k: k[name]


def compile_timestamp(pattern: str) -> Formatter:
    """Compile a Java DateTimeFormatter pattern (letters, 'quoted text', punctuation)."""
    if not pattern:
        raise InvalidPrefixError("empty !{timestamp:} expression")
    parts: list[Formatter] = []
    try:
        for kind, piece in split_pattern(pattern):
            if kind == "letters":
                parts.append(_letter(piece[0], len(piece), pattern))
            elif kind == "char" and piece in "[]{}#":
                raise InvalidPrefixError(
                    f"reserved character {piece!r} in !{{timestamp:{pattern}}}"
                )
            else:
                parts.append(_const(piece))
    except UnterminatedQuoteError:
        raise InvalidPrefixError(f"unterminated quote in !{{timestamp:{pattern}}}") from None
    return lambda t: "".join(p(t) for p in parts)


@dataclass(frozen=True)
class Prefix:
    """A compiled prefix; ``render(arrival_ms)`` gives the folder key of one delivered file."""

    template: str
    is_error_prefix: bool
    _parts: tuple[Part, ...]

    @classmethod
    def parse(
        cls,
        template: str,
        *,
        error_prefix: bool = False,
        partition_keys: frozenset[str] | None = None,
    ) -> Prefix:
        """Compile ``template``; ``partition_keys``: the keys dynamic partitioning extracts
        (``!{partitionKeyFromQuery:KEY}`` is allowed only for them)."""
        parts: list[Part] = []
        pos = 0
        has_error_type = False
        for m in _EXPR.finditer(template):
            literal = template[pos : m.start()]
            parts.append(_literal(literal))
            pos = m.end()
            namespace, sep, arg = m.group(1).partition(":")
            if not sep:
                raise InvalidPrefixError(f"expression !{{{m.group(1)}}} needs namespace:value")
            if namespace == "timestamp":
                fmt = compile_timestamp(arg)
                parts.append(_timestamp(fmt))
            elif namespace == "firehose" and arg == "random-string":
                parts.append(
                    lambda t, e, k: "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(11))
                )
            elif namespace == "firehose" and arg == "error-output-type":
                if not error_prefix:
                    raise InvalidPrefixError(
                        "!{firehose:error-output-type} is only allowed in the error prefix"
                    )
                has_error_type = True
                parts.append(lambda t, e, k: e)
            elif namespace == "partitionKeyFromQuery" and not error_prefix:
                if partition_keys is None:
                    raise InvalidPrefixError(
                        f"!{{{m.group(1)}}} needs dynamic partitioning, which is not enabled"
                    )
                if arg not in partition_keys:
                    raise InvalidPrefixError(
                        f"!{{{m.group(1)}}}: the MetadataExtractionQuery extracts no key {arg!r}"
                    )
                parts.append(_partition_key(arg))
            else:
                raise InvalidPrefixError(
                    f"unsupported expression !{{{m.group(1)}}}: use !{{timestamp:PATTERN}}, "
                    "!{firehose:random-string} or !{firehose:error-output-type}"
                )
        rest = template[pos:]
        if "!{" in rest:
            raise InvalidPrefixError(f"unterminated expression in prefix {template!r}")
        parts.append(lambda t, e, k: rest)
        if error_prefix and _EXPR.search(template) and not has_error_type:
            raise InvalidPrefixError(
                "an error prefix with expressions must contain !{firehose:error-output-type}"
            )
        if template.startswith("/") or ".." in template.split("/"):
            raise InvalidPrefixError(f"prefix {template!r} must be a relative lake key")
        return cls(template, error_prefix, tuple(parts))

    def render(
        self,
        arrival_ms: int,
        error_output_type: str = "",
        keys: Mapping[str, str] | None = None,
    ) -> str:
        """The folder key for a file whose oldest record arrived at ``arrival_ms`` (UTC) and,
        with dynamic partitioning, whose records share the partition ``keys``."""
        t = datetime.fromtimestamp(arrival_ms / 1000, tz=UTC)
        k = keys if keys is not None else {}
        return "".join(p(t, error_output_type, k) for p in self._parts)


def object_name(stream: str, arrival_ms: int, suffix: str, version: int = 1) -> str:
    """``<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><suffix>`` like Firehose's objects."""
    t = datetime.fromtimestamp(arrival_ms / 1000, tz=UTC)
    return f"{stream}-{version}-{t:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{suffix}"
