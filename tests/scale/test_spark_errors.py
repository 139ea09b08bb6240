"""Spark's prerequisites fail with one clear line, through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trafficlake.transform.spark import JAVA_FIX, JavaNotFoundError, check_java, hadoop_aws_package


def _cli(
    tmp_path: Path, args: list[str], *, env: dict[str, str], pre: str = ""
) -> subprocess.CompletedProcess[str]:
    code = f"import sys\n{pre}\nfrom trafficlake.cli import main\nsys.argv = ['trafficlake', *{args!r}]\nmain()\n"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}
    env.update(extra)
    return env


@pytest.fixture
def crawled_lake(tmp_path: Path, scale: Any) -> Path:
    """A default-layout lake (./lake, ./catalog.db) with some raw data crawled: a transform
    has work to do, so it must open its engine."""
    lake = scale.PipelineLake(scale.pipeline_settings(tmp_path))
    lake.land(scale.raw_minutes(start=scale.BASE_DAY, minutes=5))
    lake.crawl()
    return tmp_path


def test_missing_java_names_the_fix(crawled_lake: Path) -> None:
    tmp_path = crawled_lake
    env = _env(PATH=str(tmp_path))  # no java anywhere on PATH
    env.pop("JAVA_HOME", None)
    proc = _cli(tmp_path, ["transform", "--engine", "spark"], env=env)
    assert proc.returncode == 1
    out = (proc.stdout + proc.stderr).strip()
    reason = [line for line in out.splitlines() if JAVA_FIX in line]
    assert len(reason) == 1 and reason[0].startswith("error:"), out  # a one-line reason
    assert "Traceback" not in out


@pytest.mark.slow
def test_missing_pyspark_names_the_extra(crawled_lake: Path) -> None:
    tmp_path = crawled_lake
    proc = _cli(
        tmp_path,
        ["transform", "--engine", "spark"],
        env=_env(),
        pre="sys.modules['pyspark'] = None",
    )
    assert proc.returncode == 1
    out = (proc.stdout + proc.stderr).strip()
    assert "pip install 'trafficlake[spark]'" in out
    assert "Traceback" not in out


def test_check_java(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(JavaNotFoundError, match="openjdk-17-jre-headless"):
        check_java()
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    check_java()


def test_hadoop_aws_package_matches_pyspark() -> None:
    pytest.importorskip("pyspark")
    coordinate = hadoop_aws_package()
    assert coordinate.startswith("org.apache.hadoop:hadoop-aws:3.")
