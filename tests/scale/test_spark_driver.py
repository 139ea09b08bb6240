"""The Spark driver stays on loopback unless the master is remote (no pyspark import needed)."""

from __future__ import annotations

import pytest

from trafficlake.transform.spark import loopback_driver_conf

LOOPBACK = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}


@pytest.mark.parametrize(
    ("master", "expected"),
    [
        ("local[*]", LOOPBACK),
        ("local[2]", LOOPBACK),
        ("spark://127.0.0.1:7077", LOOPBACK),
        ("spark://localhost:7077", LOOPBACK),
        ("spark://spark-master.example:7077", {}),
        ("spark://10.1.2.3:7077,10.1.2.4:7077", {}),
    ],
)
def test_driver_binds_to_loopback_for_local_masters(
    master: str, expected: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    assert loopback_driver_conf(master) == expected


def test_spark_local_ip_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.2")
    assert loopback_driver_conf("local[*]") == {}
