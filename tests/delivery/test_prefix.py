"""Prefix expressions evaluated like Firehose: Java DateTimeFormatter letters, UTC, oldest record."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from trafficlake.delivery.prefix import InvalidPrefixError, Prefix, object_name


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_padded_and_unpadded_letters() -> None:
    t = ms(2026, 3, 7, 5, 4, 9)
    p = Prefix.parse("y=!{timestamp:yyyy}/m=!{timestamp:MM}/d=!{timestamp:dd}/h=!{timestamp:HH}/")
    assert p.render(t) == "y=2026/m=03/d=07/h=05/"
    p = Prefix.parse(
        "year=!{timestamp:yyyy}/month=!{timestamp:M}/day=!{timestamp:d}/hour=!{timestamp:H}/"
    )
    assert p.render(t) == "year=2026/month=3/day=7/hour=5/"
    p = Prefix.parse("!{timestamp:yy-MMM-MMMM mm:ss DDD D EEE}")
    assert p.render(t) == "26-Mar-March 04:09 066 66 Sat"
    assert Prefix.parse("!{timestamp:'at' H'h'}").render(t) == "at 5h"


def test_evaluated_in_utc_on_given_arrival() -> None:
    # 23:59:59.999 on 31 Dec stays in that hour; one ms later is the next year.
    p = Prefix.parse("!{timestamp:yyyy/M/d/H}/")
    assert p.render(ms(2025, 12, 31, 23, 59, 59) + 999) == "2025/12/31/23/"
    assert p.render(ms(2026, 1, 1)) == "2026/1/1/0/"


def test_random_string_and_error_output_type() -> None:
    p = Prefix.parse("r/!{firehose:random-string}/")
    a, b = p.render(0), p.render(0)
    assert re.fullmatch(r"r/[A-Za-z0-9]{11}/", a) and a != b
    e = Prefix.parse("errors/!{firehose:error-output-type}/!{timestamp:yyyy}/", error_prefix=True)
    assert (
        e.render(ms(2026, 1, 1), "format-conversion-failed")
        == "errors/format-conversion-failed/2026/"
    )


@pytest.mark.parametrize(
    "template, error, message",
    [
        ("raw/!{timestamp:qq}/", False, "unsupported timestamp pattern"),
        ("raw/!{timestamp:}/", False, "empty"),
        ("raw/!{firehose:error-output-type}/", False, "only allowed in the error prefix"),
        ("raw/!{partitionKeyFromQuery:x}/", False, "needs dynamic partitioning"),
        ("raw/!{timestamp:yyyy/", False, "unterminated"),
        ("raw/!{yyyy}/", False, "namespace"),
        ("errors/!{timestamp:yyyy}/", True, "must contain !{firehose:error-output-type}"),
        ("../escape/", False, "relative"),
        ("raw/!{timestamp:'x}/", False, "unterminated quote"),
    ],
)
def test_invalid_expressions_fail_at_parse(template: str, error: bool, message: str) -> None:
    with pytest.raises(InvalidPrefixError, match=re.escape(message)):
        Prefix.parse(template, error_prefix=error)


def test_object_name_shape() -> None:
    name = object_name("miv", ms(2026, 11, 21, 7, 3, 12), ".parquet")
    assert re.fullmatch(r"miv-1-2026-11-21-07-03-12-[0-9a-f-]{36}\.parquet", name)
