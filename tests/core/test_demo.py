from __future__ import annotations

from pathlib import Path

import pytest

from trafficlake.config import load_settings
from trafficlake.demo import MARKER, run_demo
from trafficlake.errors import TrafficlakeError
from trafficlake.query import run_query


def test_demo_runs_the_pipeline_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    summary = run_demo(folder, lanes=150, hours=2, start="2026-11-16T06:00:00Z", xml_minutes=5)
    assert summary.execution_status == "SUCCEEDED", summary.execution_error
    assert summary.events_landed > 150 * 100  # gaps and stale minutes aside, most lanes land
    assert summary.raw_partitions >= 2  # two arrival hours
    assert summary.transformed_rows > 0
    # The summary's numbers are what the lake holds, read back through the catalog.
    settings = load_settings(folder / "trafficlake.toml")
    rows = run_query(settings, "SELECT count(*) FROM traffic.transformed").rows[0][0]
    assert rows == summary.transformed_rows
    raw = run_query(settings, "SELECT count(*) FROM traffic.raw").rows[0][0]
    assert raw == summary.events_landed
    for row in summary.congestion:
        assert row["jam_minutes"] > 0
    # A second run wipes and rebuilds its own folder: same numbers.
    again = run_demo(folder, lanes=150, hours=2, start="2026-11-16T06:00:00Z", xml_minutes=5)
    assert again.transformed_rows == summary.transformed_rows
    assert (folder / MARKER).exists()


def test_demo_refuses_a_folder_it_did_not_create(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("x")
    with pytest.raises(TrafficlakeError, match="not a trafficlake demo folder"):
        run_demo(tmp_path / "mine", lanes=10, hours=1)
    assert (tmp_path / "mine" / "precious.txt").exists()


def test_demo_with_a_config_runs_into_that_lake_only_when_it_is_empty(tmp_path: Path) -> None:
    conf = tmp_path / "mine" / "trafficlake.toml"
    conf.parent.mkdir()
    conf.write_text("[lake]\nurl = './my-lake'\n[catalog]\nurl = 'sqlite:///my-catalog.db'\n")
    summary = run_demo(None, config=conf, lanes=60, hours=1, start="2026-11-16T07:00:00Z")
    assert summary.execution_status == "SUCCEEDED", summary.execution_error
    assert summary.lake == str(tmp_path / "mine" / "my-lake")
    assert (tmp_path / "mine" / "my-catalog.db").exists()
    assert summary.transformed_rows > 0
    with pytest.raises(TrafficlakeError, match="already holds raw data"):
        run_demo(None, config=conf, lanes=60, hours=1)
