"""The JVM starts from a process whose after-fork hooks would kill a forked child."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_spark_starts_without_running_python_in_the_forked_child() -> None:
    # pyspark's own launcher passes preexec_fn, which runs the interpreter's after-fork hooks in
    # the child (the path that crashed under many threads); this hook makes that path fail at
    # once, so the session only starts if the JVM is launched without Python in the child
    script = textwrap.dedent(
        """
        import os
        os.register_at_fork(after_in_child=lambda: os._exit(3))
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
        from trafficlake.transform.spark import get_spark_session
        spark = get_spark_session("local[1]", {"spark.ui.enabled": "false"})
        print("rows", spark.range(3).count())
        spark.stop()
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "rows 3" in proc.stdout
