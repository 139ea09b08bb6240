"""Failure paths of the catalog and the transform: one line each, and the run's true outcome.

A transform killed (SIGKILL) right after its commit is recorded SUCCEEDED by the next start; a
catalog-listed file missing from the lake, a locked and a read-only SQLite catalog end a CLI
command with one line (the web API with one JSON error), never a traceback.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
from transform_lakes import T0, LakeHarness, with_arrival

from cli_runner import CliResult, run_cli
from trafficlake.miv.simulator import Simulator
from trafficlake.transform import run_transform


def small_lake(tlake: LakeHarness) -> list[str]:
    sim = Simulator(seed=2, lanes=10, clean=True)
    keys = tlake.land(with_arrival(pa.Table.from_batches(list(sim.minutes(T0 + 3600, 5)))))
    tlake.crawl()
    return keys


def cli(cwd: Path, *args: str, env: dict[str, str | None] | None = None) -> CliResult:
    return run_cli(*args, cwd=cwd, env=env)


def one_line(proc: CliResult) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr
    return proc.stderr.strip()


KILLED_AFTER_COMMIT = textwrap.dedent(
    """
    import os
    from trafficlake.config import load_settings
    from trafficlake.transform import commit, run_transform
    real = commit.commit_catalog
    def commit_then_die(*args, **kwargs):
        real(*args, **kwargs)
        os._exit(9)  # like kill -9 right after the commit transaction
    commit.commit_catalog = commit_then_die
    run_transform(load_settings(None))
    """
)


def test_a_run_killed_after_its_commit_is_recorded_succeeded(
    tlake: LakeHarness, tmp_path: Path
) -> None:
    small_lake(tlake)
    proc = subprocess.run([sys.executable, "-c", KILLED_AFTER_COMMIT], cwd=tmp_path, check=False)
    assert proc.returncode == 9
    with tlake.catalog() as cat:
        [killed] = cat.list_job_runs("transform")
        assert killed.state == "RUNNING"  # as the dead process left it
    tlake.transform()  # the next start closes it
    with tlake.catalog() as cat:
        closed = cat.get_job_run(killed.id)
    assert closed.state == "SUCCEEDED" and closed.error is None
    assert closed.result["note"].endswith("died while the run was RUNNING, after its commit landed")


def test_a_run_killed_before_its_commit_is_recorded_failed(
    tlake: LakeHarness, tmp_path: Path
) -> None:
    small_lake(tlake)
    script = KILLED_AFTER_COMMIT.replace("    real(*args, **kwargs)\n", "")
    assert script != KILLED_AFTER_COMMIT
    assert subprocess.run([sys.executable, "-c", script], cwd=tmp_path).returncode == 9
    with tlake.catalog() as cat:
        [killed] = cat.list_job_runs("transform")
    tlake.transform()
    with tlake.catalog() as cat:
        first = cat.get_job_run(killed.id)
    assert first.state == "FAILED" and "died while the run was RUNNING" in (first.error or "")


def test_a_catalog_listed_file_missing_from_the_lake(tlake: LakeHarness, tmp_path: Path) -> None:
    [key, *_] = small_lake(tlake)
    tlake.lake.delete(key)
    run = run_transform(tlake.settings)
    assert run.state == "FAILED"
    assert run.error == (
        f"InputMissingError: raw file {key} is listed in the catalog but missing from the lake; "
        "crawl the raw table again (trafficlake crawler start raw --wait), then transform"
    )
    line = one_line(cli(tmp_path, "query", "SELECT count(*) FROM traffic.raw"))
    assert line.startswith("error: traffic.raw: the catalog lists files the lake cannot give (")
    assert line.endswith("crawl the table again to bring the catalog up to date")

    from fastapi.testclient import TestClient

    from trafficlake.web import create_app

    with TestClient(create_app(tlake.settings), raise_server_exceptions=False) as client:
        response = client.post("/api/query", json={"sql": "SELECT count(*) FROM traffic.raw"})
    assert response.status_code == 500
    assert response.json()["error"].startswith("traffic.raw: the catalog lists files")


def test_a_locked_catalog_is_one_line(tlake: LakeHarness, tmp_path: Path) -> None:
    small_lake(tlake)
    holder = sqlite3.connect(tmp_path / "catalog.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        proc = cli(
            tmp_path,
            "crawler",
            "start",
            "raw",
            "--wait",
            env={"TRAFFICLAKE_CATALOG__BUSY_TIMEOUT_S": "0.3"},
        )
    finally:
        holder.rollback()
        holder.close()
    assert one_line(proc) == (
        f"error: catalog sqlite:///{tmp_path / 'catalog.db'} is locked by another process "
        "(waited 0.3 s to write); try again when it is done"
    )


def test_a_read_only_catalog_is_one_line(tlake: LakeHarness, tmp_path: Path) -> None:
    small_lake(tlake)
    url = f"sqlite:///file:{tmp_path / 'catalog.db'}?mode=ro&uri=true"
    line = one_line(
        cli(tmp_path, "crawler", "start", "raw", "--wait", env={"TRAFFICLAKE_CATALOG__URL": url})
    )
    assert line.startswith("error: catalog sqlite:///file") and line.endswith(
        "?mode=ro&uri=true is read-only: cannot write (attempt to write a readonly database)"
    )
    # reading still works
    ok = cli(tmp_path, "catalog", "tables", env={"TRAFFICLAKE_CATALOG__URL": url})
    assert ok.returncode == 0, ok.stderr
