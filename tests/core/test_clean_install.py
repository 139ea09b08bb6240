"""The package alone (no extras) in a clean venv: the demo and a query run, and each extra's
feature says in one line which extra it needs. Catches the next runtime import that is only
declared in an extra (sqlglot was one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("clean-install")
    source = base / "source"  # a copy: building in the work tree would leave build/ behind
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copy(REPO / "README.md", source)
    shutil.copytree(
        REPO / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--no-compile", str(source)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def _run(venv: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TRAFFICLAKE_", "PYTHON"))}
    return subprocess.run(
        [str(venv / "bin" / "trafficlake"), *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _one_line_error(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.mark.slow
def test_the_package_alone_runs_the_demo_and_a_query(clean_venv: Path, tmp_path: Path) -> None:
    imported = subprocess.run(
        [str(clean_venv / "bin" / "python"), "-c", "import fastapi"], capture_output=True
    )
    assert imported.returncode != 0  # really no extras
    demo = _run(clean_venv, tmp_path, "demo", "--lanes", "50", "--hours", "1", "--dir", "d")
    assert demo.returncode == 0, demo.stderr
    assert "What the demo did" in demo.stdout
    conf = str(tmp_path / "d" / "trafficlake.toml")
    query = _run(clean_venv, tmp_path, "query", "SELECT count(*) AS n FROM transformed",
                 "-f", "csv", "-c", conf)  # fmt: skip
    assert query.returncode == 0, query.stderr
    assert int(query.stdout.splitlines()[1]) > 0


@pytest.mark.slow
def test_each_missing_extra_is_named_in_one_line(clean_venv: Path, tmp_path: Path) -> None:
    demo = _run(clean_venv, tmp_path, "demo", "--lanes", "20", "--hours", "1", "--dir", "d",
                "--start", "2026-11-16T07:00:00Z")  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    conf = str(tmp_path / "d" / "trafficlake.toml")
    _one_line_error(_run(clean_venv, tmp_path, "serve", "-c", conf), "trafficlake[web]")
    spark = _run(clean_venv, tmp_path, "transform", "--engine", "spark", "--from", "2026-11-16",
                 "--to", "2026-11-16", "-c", conf)  # fmt: skip
    _one_line_error(spark, "pyspark", "trafficlake[spark]")
    pg = _run(clean_venv, tmp_path, "catalog", "tables",
              TRAFFICLAKE_CATALOG__URL="postgresql://nobody@127.0.0.1:9/traffic")  # fmt: skip
    _one_line_error(pg, "trafficlake[postgres]")
    s3 = _run(clean_venv, tmp_path, "query", "SELECT 1",
              TRAFFICLAKE_LAKE__URL="s3://bucket/lake",
              TRAFFICLAKE_CATALOG__URL=f"sqlite:///{tmp_path}/c.db")  # fmt: skip
    _one_line_error(s3, "trafficlake[aws]")
