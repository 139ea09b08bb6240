"""The driver JVM's class archive: the first session writes it (when its process exits, or when
it is stopped), the next maps it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SESSION = textwrap.dedent(
    """
    import sys
    from trafficlake.transform.spark import get_spark_session, stop_spark
    conf = {"spark.ui.enabled": "false", "spark.driver.memory": "512m"}
    if sys.argv[2:]:
        conf["spark.driver.extraJavaOptions"] = sys.argv[2]
    print("rows", get_spark_session("local[1]", conf).range(3).count())
    if sys.argv[1] == "stop":
        stop_spark()  # else the process just exits, as the CLI does
    """
)


def _session(cache: Path, end: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "SPARK_LOCAL_IP": "127.0.0.1"}
    proc = subprocess.run(
        [sys.executable, "-c", SESSION, end, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "rows 3" in proc.stdout
    return proc


def test_first_session_writes_the_archive_and_the_next_maps_it(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    cache = tmp_path / "cache"
    first = _session(cache, "exit")
    archives = list((cache / "trafficlake" / "spark-cds").glob("*.jsa"))
    assert len(archives) == 1 and archives[0].stat().st_size > 0
    assert first.stdout.strip() == "rows 3"  # nothing of the JVM's on stdout (--json stays clean)
    assert not list(archives[0].parent.glob("*.tmp"))

    log = tmp_path / "classes.log"
    _session(cache, "stop", f"-Xlog:class+load=info:file={log}")
    loaded = log.read_text()
    # Spark's classes come from the archive on top of the JDK's own ("top" = the dynamic one)
    assert "org.apache.spark.sql.SparkSession source: shared objects file (top)" in loaded


def test_a_stopped_session_writes_the_archive(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    cache = tmp_path / "cache"
    _session(cache, "stop")
    assert len(list((cache / "trafficlake" / "spark-cds").glob("*.jsa"))) == 1


def test_an_xshare_option_of_the_user_turns_the_archive_off(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    cache = tmp_path / "cache"
    _session(cache, "stop", "-Xshare:off")
    assert not (cache / "trafficlake" / "spark-cds").exists()
