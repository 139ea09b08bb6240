from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from cli_runner import run_cli
from trafficlake.config import load_settings
from trafficlake.demo import MARKER, demo_day, run_demo
from trafficlake.errors import TrafficlakeError
from trafficlake.query import run_query


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_the_demo_day_is_the_latest_weekday_whatever_day_it_runs() -> None:
    monday = date(2026, 11, 30)
    for offset in range(14):
        today = monday + timedelta(days=offset)
        day = demo_day(today)
        assert day.weekday() < 5 and day < today
        assert all((day + timedelta(days=k)).weekday() >= 5 for k in range(1, (today - day).days))
    assert demo_day(monday) == date(2026, 11, 27)  # Monday: last Friday
    assert demo_day(date(2026, 12, 6)) == date(2026, 12, 4)  # Sunday: Friday
    assert demo_day(date(2026, 12, 2)) == date(2026, 12, 1)  # Wednesday: Tuesday


@pytest.mark.slow
def test_demo_run_on_a_tuesday_shows_both_rush_hours_jams_in_local_time(tmp_path: Path) -> None:
    # Run "on" a Tuesday: the demo simulates the Monday, 06:00-20:00 Brussels time.
    s = run_demo(tmp_path / "demo", lanes=400, today=date(2026, 12, 1), xml_minutes=2)
    assert s.execution_status == "SUCCEEDED", s.execution_error
    assert s.day == "Monday 30 November 2026"
    assert (s.first_local, s.last_local) == ("06:00", "20:00")
    assert s.first_minute == "2026-11-30T05:00:00+00:00"  # CET is UTC+1
    assert s.lane_minutes <= s.events_landed and s.lane_minutes > 400 * 700
    assert [j.period for j in s.jams] == ["morning", "evening"]
    morning, evening = s.jams
    assert "06:30" < morning.first < morning.last <= "13:00" < evening.first < evening.last
    for j in s.jams:
        assert j.jam_minutes > 30 and j.worst_road_sites >= 2  # a queue that spread upstream
        assert j.worst_road_minutes <= j.jam_minutes and j.worst_road_start
    # The jams the summary names are in the lake: minutes flagged in both rush hours.
    settings = load_settings(tmp_path / "demo" / "trafficlake.toml")
    flagged = run_query(
        settings,
        "SELECT count(*) FROM traffic.transformed WHERE trafficJamIndicator = 1",
    ).rows[0][0]
    assert flagged == morning.jam_minutes + evening.jam_minutes
    assert any("trafficlake serve" in step for step in s.next_steps) and len(s.next_steps) == 3


@pytest.mark.slow
def test_demo_command_prints_a_plain_summary_and_next_steps(tmp_path: Path) -> None:
    done = run_cli(
        "demo", "--lanes", "60", "--hours", "1", "--start", "2026-11-16T07:00:00Z", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Simulated 60 lanes" in out and "08:00 to 09:00 Brussels time" in out
    assert "road-section minutes" in out and "Try next" in out and "trafficlake serve" in out
    # each pipeline step once, not a Wait/Get/Check line per poll
    assert done.stderr.count("transforming") == 1 and "WaitStateEntered" not in done.stderr


def test_demo_refuses_absurd_sizes_naming_the_limit(tmp_path: Path) -> None:
    with pytest.raises(TrafficlakeError, match=r"--lanes 1\.\.100,000"):
        run_demo(tmp_path / "d", lanes=100_000_000, hours=1)


@pytest.mark.slow
def test_ctrl_c_on_the_demo_says_it_is_incomplete_and_exits_130(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trafficlake.cli", "demo", "--lanes", "400", "--dir", "d"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (tmp_path / "d" / "lake" / "raw").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: the demo in d is incomplete; run `trafficlake demo` again" in err
    assert "Traceback" not in err
