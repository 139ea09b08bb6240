"""Fixtures for the scale-out suite: a real moto S3 server, a Spark session, a standalone cluster.

Everything runs as real processes on 127.0.0.1 with ephemeral ports. Under ``pytest -n 2`` each
worker has its own session, so each worker starts its own servers when it needs them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trafficlake.config import Settings, load_settings

# Keep every Spark process (drivers started by the tests too) on loopback.
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

DUMMY_KEY = "testing"
DUMMY_SECRET = "testing-secret"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout}s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# ---- S3 (moto server) ------------------------------------------------------------------------
@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=DUMMY_KEY,
            aws_secret_access_key=DUMMY_SECRET,
        )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server as a subprocess on a free loopback port."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc, 30, "moto server")
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        stop_process(proc)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket for one test."""
    name = f"lake-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


def s3_overrides(endpoint_url: str, bucket: str) -> dict[str, dict[str, str]]:
    return {
        "lake": {"url": f"s3://{bucket}/lake"},
        "s3": {
            "endpoint_url": endpoint_url,
            "region": "us-east-1",
            "access_key_id": DUMMY_KEY,
            "secret_access_key": DUMMY_SECRET,
            "path_style": "true",
        },
    }


@pytest.fixture
def s3_settings(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings for a lake at ``s3://<fresh bucket>/lake`` on the moto server (catalog local)."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("TRAFFICLAKE_"):
            monkeypatch.delenv(name)
    overrides: dict[str, Any] = s3_overrides(s3_server.endpoint_url, s3_bucket)
    overrides["workflow"] = {"wait_scale": "0.01"}
    return load_settings(None, overrides=overrides)


# ---- Spark -----------------------------------------------------------------------------------
SPARK_TEST_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "1g",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


def spark_home() -> Path:
    pyspark = pytest.importorskip("pyspark")
    return Path(pyspark.__file__).parent


@pytest.fixture(scope="session")
def spark_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark-warehouse")


def spark_test_conf(warehouse: Path) -> dict[str, str]:
    return {**SPARK_TEST_CONF, "spark.sql.warehouse.dir": str(warehouse)}


@pytest.fixture
def spark_conf(spark_warehouse: Path) -> dict[str, str]:
    """Small, UI-less Spark settings for tests (also what cluster tests pass)."""
    return spark_test_conf(spark_warehouse)


@pytest.fixture
def spark_local(spark_warehouse: Path) -> Any:
    """A ``local[2]`` SparkSession, shared by every test of the session (per xdist worker).

    Function-scoped on purpose: a cluster test may have replaced the process's one session;
    this re-creates the local one only then and is free otherwise.
    """
    from trafficlake.transform.spark import JavaNotFoundError, get_spark_session

    try:
        return get_spark_session("local[2]", spark_test_conf(spark_warehouse))
    except JavaNotFoundError as exc:  # the machine lacks Java: say so in the skip reason
        pytest.skip(str(exc))


def _stop_spark_on(master: str) -> None:
    """Stop this process's Spark session if it runs on ``master`` (before the cluster goes)."""
    from trafficlake.transform.spark import current_session

    active = current_session()
    if active is not None and active.sparkContext.master == master:
        active.stop()


@dataclass(frozen=True)
class StandaloneCluster:
    master_url: str
    webui_url: str


def _master_json(webui_port: int) -> dict[str, Any]:
    url = f"http://127.0.0.1:{webui_port}/json/"
    with urllib.request.urlopen(url, timeout=2) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    """A real standalone cluster from pyspark's own jars: one master and two workers."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        from trafficlake.transform.spark import JavaNotFoundError

        pytest.skip(str(JavaNotFoundError()))
    home = spark_home()
    base = tmp_path_factory.mktemp("spark-cluster")
    classpath = str(home / "jars" / "*")
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_SCALA_VERSION": "2.13",  # pip's pyspark has jars/ but no build dirs to infer it
        "SPARK_LOG_DIR": str(base),
        "SPARK_WORKER_DIR": str(base / "work"),
    }
    java = shutil.which("java") or str(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    jvm = [java, "-Xmx256m", "-cp", classpath]
    port, webui = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with open(base / f"{name}.log", "wb") as out:
            proc = subprocess.Popen(jvm + args, stdout=out, stderr=subprocess.STDOUT, env=env)
        procs.append(proc)
        return proc

    try:
        master = start(
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(webui),
            ],
        )
        wait_for_port(port, master, 60, "Spark master")
        wait_for_port(webui, master, 60, "Spark master web UI")
        master_url = f"spark://127.0.0.1:{port}"
        for i in range(2):
            start(
                f"worker{i}",
                [
                    "org.apache.spark.deploy.worker.Worker",
                    master_url,
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    "1",
                    "--memory",
                    "1g",
                    "--webui-port",
                    "0",
                    "--work-dir",
                    str(base / f"work{i}"),
                ],
            )
        deadline = time.monotonic() + 90
        alive = 0
        while time.monotonic() < deadline:
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a Spark cluster process exited; logs in {base}")
            with contextlib.suppress(OSError, ValueError):
                state = _master_json(webui)
                alive = sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")
                if alive >= 2:
                    break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"only {alive} of 2 Spark workers registered; logs in {base}")
        yield StandaloneCluster(master_url, f"http://127.0.0.1:{webui}")
    finally:
        _stop_spark_on(f"spark://127.0.0.1:{port}")
        for p in reversed(procs):
            stop_process(p)


# ---- raw test data ---------------------------------------------------------------------------
DAY = 86_400
BASE_DAY = 20_778 * DAY  # 2026-11-21 00:00 UTC


def raw_minutes(
    *,
    start: int,
    minutes: int,
    sections: int = 3,
    lanes_per_section: int = 2,
    seed: int = 7,
    arrival_delay_s: int = 30,
) -> Any:
    """Raw lane-minutes (RAW_SCHEMA) with varied speeds, some slow (jams), some defects."""
    import numpy as np
    import pyarrow as pa

    from trafficlake.schema import RAW_SCHEMA

    rng = np.random.default_rng(seed)
    n_lanes = sections * lanes_per_section
    t = np.repeat(start + 60 * np.arange(minutes, dtype=np.int64), n_lanes)
    lane = np.tile(np.arange(n_lanes), minutes)
    n = len(t)
    cols: dict[str, Any] = {
        "beschrijvende_id": [f"H{i:03d}N1" for i in lane],
        "unieke_id": (100 + lane).astype(np.int32),
        "lve_nr": (1 + lane // lanes_per_section).astype(np.int32),
        "tijd_waarneming": t,
        "tijd_laatst_gewijzigd": t + 45,
        "tijd_publicatie": t + 60,
        "actueel_publicatie": np.ones(n, np.int8),
        "beschikbaar": np.ones(n, np.int8),
        "defect": (rng.random(n) < 0.03).astype(np.int8),
        "geldig": np.zeros(n, np.int8),
    }
    # a speed level per section that drifts, with jam episodes (< 40 km/h)
    level = 30 + 90 * rng.random(n)
    for k in (1, 2, 3, 4, 5):
        count = rng.integers(0, 15, n).astype(np.int32)
        speed = np.clip(level + rng.normal(0, 12, n), 0, 250).astype(np.int32)
        speed[count == 0] = 0
        speed[rng.random(n) < 0.02] = 252  # sentinel
        cols[f"verkeersintensiteit_klasse{k}"] = count
        cols[f"voertuigsnelheid_rekenkundig_klasse{k}"] = speed
        cols[f"voertuigsnelheid_harmonisch_klasse{k}"] = np.maximum(speed - 3, 0).astype(np.int32)
    cols["rekendata_bezettingsgraad"] = rng.integers(-1, 60, n).astype(np.int32)
    cols["rekendata_beschikbaarheidsgraad"] = np.full(n, 100, np.int32)
    cols["rekendata_onrustigheid"] = rng.integers(0, 5, n).astype(np.int32)
    cols["arrival_time"] = (t + arrival_delay_s) * 1000
    return pa.table(cols, schema=RAW_SCHEMA)


def read_output(lake: Any, prefix: str) -> Any:
    """Every Parquet file under ``prefix`` with its year/month/day/hour folders as columns."""
    import pyarrow as pa
    import pyarrow.dataset as pads

    files = [lake.path(f.key) for f in lake.list(prefix) if f.key.endswith(".parquet")]
    if not files:
        return None
    part = pads.partitioning(
        pa.schema([(k, pa.int32()) for k in ("year", "month", "day", "hour")]), flavor="hive"
    )
    ds = pads.dataset(
        files,
        format="parquet",
        filesystem=lake.fs,
        partitioning=part,
        partition_base_dir=lake.path(prefix),
    )
    return ds.to_table()


def assert_same_rows(
    left: Any, right: Any, *, key: tuple[str, ...] = ("lve_nr", "recordTimestamp")
) -> None:
    """Row-for-row equality of two output tables; floats within 1e-9 (relative to magnitude)."""
    import math

    assert left is not None and right is not None, "an engine wrote no output"
    assert sorted(left.column_names) == sorted(right.column_names)
    assert left.num_rows == right.num_rows, (left.num_rows, right.num_rows)
    sort = [(k, "ascending") for k in key]
    a = left.sort_by(sort).to_pylist()
    b = right.select(left.column_names).sort_by(sort).to_pylist()
    for ra, rb in zip(a, b, strict=True):
        for name in left.column_names:
            x, y = ra[name], rb[name]
            if isinstance(x, float) or isinstance(y, float):
                assert (x is None) == (y is None), (name, ra, rb)
                if x is not None:
                    assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9), (name, x, y, ra)
            else:
                assert x == y, (name, x, y, ra)


# ---- a lake + catalog driven through the public pipeline ------------------------------------
@dataclass
class PipelineLake:
    """Raw files landed in arrival-hour partitions, crawled, transformed, read via the catalog."""

    settings: Settings

    @property
    def lake(self) -> Any:
        from trafficlake.storage import Lake

        return Lake.from_settings(self.settings)

    def land(self, table: Any, name: str = "miv") -> None:
        import datetime as dt

        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        lake = self.lake
        hours = pc.divide(table["arrival_time"], 3_600_000)
        for hour in sorted(set(hours.to_pylist())):
            part = table.filter(pc.equal(hours, hour))
            t = dt.datetime.fromtimestamp(hour * 3600, dt.UTC)
            key = (
                f"raw/year={t.year}/month={t.month}/day={t.day}/hour={t.hour}/"
                f"{name}-1-{t:%Y-%m-%d-%H}-00-00-{uuid.uuid4().hex}.parquet"
            )
            with lake.open_atomic(key) as out:
                pq.write_table(part, out)

    def crawl(self) -> None:
        from trafficlake.catalog.crawler import run_crawler

        run = run_crawler(self.settings, "raw")
        assert run.status == "SUCCEEDED", run.error_message

    def transform(self, **kwargs: Any) -> Any:
        from trafficlake.transform import run_transform

        run = run_transform(self.settings, **kwargs)
        assert run.state == "SUCCEEDED", run.error
        return run

    def output(self) -> Any:
        """The transformed table as readers see it: the catalog's file lists."""
        import pyarrow as pa
        import pyarrow.dataset as pads

        from trafficlake.catalog import open_catalog

        with open_catalog(self.settings) as cat:
            parts = cat.list_partitions("traffic", "transformed")
        lake = self.lake
        tables = []
        for p in parts:
            for f in p.files:
                t = pads.dataset(lake.path(f.key), format="parquet", filesystem=lake.fs).to_table()
                for k, v in zip(("year", "month", "day", "hour"), p.values, strict=True):
                    t = t.append_column(k, pa.array([int(v)] * t.num_rows, pa.int32()))
                tables.append(t)
        return pa.concat_tables(tables) if tables else None


def pipeline_settings(
    base: Path, extra: dict[str, dict[str, str]] | None = None, **spark: Any
) -> Settings:
    base.mkdir(parents=True, exist_ok=True)
    overrides: dict[str, Any] = {
        "lake": {"url": str(base / "lake")},
        "catalog": {"url": f"sqlite:///{base / 'catalog.db'}"},
        "transform": {"parallelism": "1"},
    }
    if spark:
        overrides["spark"] = spark
    for section, values in (extra or {}).items():
        overrides[section] = {**overrides.get(section, {}), **values}
    return load_settings(None, environ={}, overrides=overrides)


@pytest.fixture(scope="session")
def scale() -> Any:
    """The helpers above for test modules (conftest is not importable under importlib mode)."""
    import types

    return types.SimpleNamespace(
        DAY=DAY,
        BASE_DAY=BASE_DAY,
        raw_minutes=raw_minutes,
        read_output=read_output,
        assert_same_rows=assert_same_rows,
        PipelineLake=PipelineLake,
        pipeline_settings=pipeline_settings,
    )
