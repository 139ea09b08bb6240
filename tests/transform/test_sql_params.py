"""The look-back is one parameter: the 20-minute window, the read set's lower bound and the
planning probe all follow ``transform.sql.LOOKBACK_SECONDS``."""

from __future__ import annotations

import pytest

from trafficlake.transform import sql


def test_the_look_back_drives_the_window_the_read_set_and_the_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sql, "LOOKBACK_SECONDS", 600)
    text = sql.render_traffic_sql(start=86400, end=2 * 86400, jam_threshold=40)
    assert "RANGE BETWEEN 600 PRECEDING AND CURRENT ROW) AS avgSpeed20Minutes" in text
    assert "tijd_waarneming >= 85800 AND tijd_waarneming < 172800" in text  # start - 600
    assert "1140" not in text
    assert "(tijd_waarneming + 600) / 86400" in sql.event_days_sql("raw_input")


def test_the_template_has_no_window_literals() -> None:
    template = sql.traffic_sql_template()
    assert "RANGE BETWEEN {lookback} PRECEDING" in template
    assert "RANGE BETWEEN {short_window} PRECEDING" in template
    assert "1140 PRECEDING" not in template and "120 PRECEDING" not in template
