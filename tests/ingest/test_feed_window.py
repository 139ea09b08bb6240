"""A feed time outside the arrival window never reaches a partition or the arrival clock."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cli_runner import run_cli
from trafficlake import ingest
from trafficlake.config import Settings, load_settings
from trafficlake.ingest import InvalidStartError, parse_start
from trafficlake.miv.simulator import Simulator
from trafficlake.storage import Lake

START = "2026-03-02T00:00:00Z"


def documents(folder: Path, published: list[str | None]) -> list[str]:
    """One simulated minute per entry; a text replaces that document's ``tijd_publicatie``."""
    sim = Simulator(seed=4, lanes=6, clean=True)
    folder.mkdir()
    paths = []
    for i, batch in enumerate(sim.minutes(parse_start(START), len(published))):
        data = sim.to_xml(batch)
        if published[i] is not None:
            tag = f"<tijd_publicatie>{published[i]}</tijd_publicatie>".encode()
            data = re.sub(rb"<tijd_publicatie>[^<]*</tijd_publicatie>", tag, data)
        path = folder / f"{i:02d}.xml"
        path.write_bytes(data)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("bad", ["9999-12-31T23:59:59Z", "9999-01-01T00:00:00Z"])
def test_a_far_future_publication_is_quarantined_and_the_replay_goes_on(
    settings: Settings, tmp_path: Path, bad: str
) -> None:
    files = documents(tmp_path / "docs", [None, bad, None])
    report = ingest.replay(settings, files, simulated_arrival=True)
    assert (report.documents, report.failed_documents) == (2, 1)
    lake = Lake.from_settings(settings)
    assert lake.list_dirs("raw/") == ["raw/year=2026"]  # the later document too
    [line] = [
        json.loads(x)
        for e in lake.list("errors/processing-failed/")
        for x in lake.read_bytes(e.key).decode().splitlines()
    ]
    assert line["errorMessage"].startswith("<tijd_publicatie> outside the accepted window")
    assert list(Path(".trafficlake/wal/miv").glob("segment-*.wal")) == []
    again = ingest.replay(settings, files[:1], simulated_arrival=True)  # never wedged
    assert again.documents == 1


def test_the_window_is_configurable(settings: Settings, tmp_path: Path) -> None:
    files = documents(tmp_path / "docs", [None])
    strict = load_settings(None, overrides={"ingest": {"max_age_days": 30}})
    report = ingest.replay(strict, files)
    assert report.failed_documents == 1 and report.documents == 0  # 2026-03 is too old
    assert ingest.replay(settings, files).documents == 1


@pytest.mark.slow
@pytest.mark.parametrize("start", ["9999-12-31", "1970-01-01", "2999-01-01T00:00:00Z"])
def test_a_simulation_start_outside_the_window_is_one_line(tmp_path: Path, start: str) -> None:
    with pytest.raises(InvalidStartError, match="simulate from 2000-01-01 up to a year from now"):
        parse_start(start)
    proc = run_cli("ingest", "simulate", "--start", start, cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "simulate from 2000-01-01" in proc.stderr
