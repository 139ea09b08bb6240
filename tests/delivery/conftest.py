"""Delivery fixtures: sample records and a `firehose serve` subprocess on loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trafficlake.schema import CLASSES

sys.path.insert(0, str(Path(__file__).parent))  # seed_producer, the seed-shaped producer


def _make_record(i: int, t: int = 1588262160) -> dict[str, str]:
    """A record shaped like the original pipeline's events: every value a string."""
    rec = {
        "beschrijvende_id": f"H{i:04d}L10",
        "unieke_id": str(i),
        "lve_nr": str(i % 97),
        "tijd_waarneming": str(t),
        "tijd_laatst_gewijzigd": str(t + 30),
        "tijd_publicatie": str(t + 60),
        "actueel_publicatie": "1",
        "beschikbaar": "1",
        "defect": "0",
        "geldig": "0",
        "rekendata_bezettingsgraad": str(i % 100),
        "rekendata_beschikbaarheidsgraad": "100",
        "rekendata_onrustigheid": "0",
    }
    for k in CLASSES:
        rec[f"verkeersintensiteit_klasse{k}"] = str((i + k) % 30)
        rec[f"voertuigsnelheid_rekenkundig_klasse{k}"] = str(80 + k)
        rec[f"voertuigsnelheid_harmonisch_klasse{k}"] = "252" if k == 5 else str(70 + k)
    return rec


def write_config(folder: Path, **delivery: Any) -> Path:
    lines = ["[lake]", 'url = "./lake"', "[delivery]"]
    for key, value in delivery.items():
        lines.append(f"{key} = {value!r}".replace("'", '"'))
    path = folder / "trafficlake.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class ServerProcess:
    proc: subprocess.Popen[str]
    url: str
    folder: Path

    def stop(self, sig: int = 15, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def start_server(folder: Path, *extra: str) -> ServerProcess:
    """Start `python -m trafficlake.cli firehose serve --port 0` and read its bound port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trafficlake.cli",
            "firehose",
            "serve",
            "--port",
            "0",
            "--config",
            str(folder / "trafficlake.toml"),
            *extra,
        ],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    line = proc.stdout.readline()
    if time.monotonic() > deadline or not line:
        proc.kill()
        raise RuntimeError(f"server did not start: {proc.stderr.read() if proc.stderr else ''}")
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    assert m, line
    return ServerProcess(proc, f"http://127.0.0.1:{m.group(1)}", folder)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[ServerProcess] = []

    def factory(*extra: str, **delivery: Any) -> ServerProcess:
        if not (tmp_path / "trafficlake.toml").exists() or delivery:
            write_config(tmp_path, **delivery)
        server = start_server(tmp_path, *extra)
        started.append(server)
        return server

    yield factory
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(10)


def _firehose_client(url: str, access_key: str = "test") -> Any:
    import boto3

    return boto3.client(
        "firehose",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id=access_key,
        aws_secret_access_key="secret",
    )


@pytest.fixture
def make_record() -> Any:
    return _make_record


@pytest.fixture
def firehose_client() -> Any:
    return _firehose_client


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """moto's S3 server as a subprocess on a free loopback port; yields its endpoint URL."""
    import contextlib
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("moto server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
