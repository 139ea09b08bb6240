"""The seed Lambda's ranges: at most 4 days, never across a month end, up to yesterday."""

from __future__ import annotations

import datetime as dt

import pytest

from trafficlake.athena.seed import SEED_INSERT, insert_queries, seed_ranges
from trafficlake.errors import TrafficlakeError


def test_ranges_are_four_days_within_a_month() -> None:
    assert seed_ranges(dt.date(2026, 10, 27), dt.date(2026, 11, 6)) == [
        (2026, 10, 27, 30), (2026, 10, 31, 31), (2026, 11, 1, 4), (2026, 11, 5, 6)
    ]  # fmt: skip
    assert seed_ranges(dt.date(2026, 12, 31), dt.date(2027, 1, 1)) == [
        (2026, 12, 31, 31), (2027, 1, 1, 1)
    ]  # fmt: skip


def test_insert_queries_fill_the_seeds_placeholders_and_tables() -> None:
    out = insert_queries({"Input": {"year": 2026, "month": 11, "day": 1, "until": "2026-11-06"},
                          "Source": "traffic.raw", "Target": "traffic.t"})  # fmt: skip
    assert out["Ranges"] == ["2026-11-01..04", "2026-11-05..06"]
    first = out["Queries"][0]
    assert first.startswith('INSERT INTO "traffic"."t"') and 'FROM\n"traffic"."raw"' in first
    assert "BETWEEN 1 AND 4" in first and "{" not in first
    assert SEED_INSERT.count("{start_day}") == 1
    yesterday = insert_queries({})["Ranges"]
    assert len(yesterday) == 1
    with pytest.raises(TrafficlakeError, match="after the last day"):
        insert_queries({"year": 2999, "month": 1, "day": 1})
    with pytest.raises(TrafficlakeError, match=r"DATABASE\.TABLE"):
        insert_queries({"Source": "nodot"})
