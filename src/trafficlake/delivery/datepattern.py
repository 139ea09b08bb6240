"""Java/Joda date-time patterns split into their pieces: the one tokenizer behind Firehose's
``!{timestamp:...}`` prefix expressions (:mod:`prefix`) and the SerDe's ``TimestampFormats``
(:mod:`serde`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

Kind = Literal["text", "letters", "char"]


class UnterminatedQuoteError(ValueError):
    """A ``'quoted text'`` in a pattern has no closing quote."""


def split_pattern(pattern: str) -> Iterator[tuple[Kind, str]]:
    """``("text", quoted text)`` (``''`` is a literal quote), ``("letters", a run of one
    letter)`` or ``("char", one other character)``, in order."""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end < 0:
                raise UnterminatedQuoteError(pattern)
            yield "text", pattern[i + 1 : end] or "'"
            i = end + 1
        elif ch.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == ch:
                j += 1
            yield "letters", pattern[i:j]
            i = j
        else:
            yield "char", ch
            i += 1
