"""``trafficlake transform --engine spark`` end to end in a fresh process (its own JVM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.spark

CONFIG = """
[lake]
url = "./lake"
[spark]
master = "local[1]"
[spark.conf]
"spark.ui.enabled" = "false"
"spark.sql.shuffle.partitions" = "2"
"spark.driver.memory" = "512m"
"spark.driver.host" = "127.0.0.1"
"spark.driver.bindAddress" = "127.0.0.1"
"""


def test_cli_transform_with_spark(tmp_path: Path, scale: Any) -> None:
    (tmp_path / "trafficlake.toml").write_text(CONFIG)
    lake = scale.PipelineLake(scale.pipeline_settings(tmp_path))  # ./lake + ./catalog.db
    lake.land(scale.raw_minutes(start=scale.BASE_DAY + 600, minutes=15, seed=9))
    lake.crawl()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}
    proc = subprocess.run(
        [sys.executable, "-m", "trafficlake.cli", "transform", "--engine", "spark", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads(proc.stdout)
    assert run["state"] == "SUCCEEDED"
    assert run["result"]["engine"] == "spark"
    assert run["result"]["days"] == ["2026-11-21"]
    out = lake.output()
    assert out.num_rows == run["result"]["rows_written"] > 0
