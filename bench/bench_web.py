"""Web: warm answers of ``trafficlake serve`` and what a DuckDB connection per request costs.

A small demo lake (100 lanes, 2 hours; quick: 1 hour) is served by a real ``trafficlake serve``
process on loopback. Each API answer that runs SQL is asked once to warm up, then N times
(quick: 5, else 15) in turn with the others over one keep-alive HTTP client: best and median
wall time per answer. Baseline in the same run: opening a new catalog connection in process
(``trafficlake.query.connect``: a DuckDB database, its schemas and a view per catalog table,
the locations and sections views), which every request that runs SQL paid before the server
kept its connections; its share of the median answer is what reusing them saves.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DAY = "2026-11-16"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(lve_nr: int, road: str, direction: str) -> dict[str, str]:
    return {
        "congestion": f"/api/locations/congestion?day={DAY}",
        "timeseries": f"/api/locations/{lve_nr}/timeseries?day={DAY}",
        "jams": f"/api/jams?day={DAY}",
        "timespace": f"/api/roads/{road}/{direction}/timespace?day={DAY}",
    }


def run(quick: bool) -> list[dict[str, Any]]:
    import httpx

    from trafficlake.catalog import open_catalog
    from trafficlake.config import load_settings
    from trafficlake.demo import run_demo
    from trafficlake.query import connect
    from trafficlake.storage import Lake

    rounds = 5 if quick else 15
    with tempfile.TemporaryDirectory(prefix="tl-bench-web-") as tmp:
        folder = Path(tmp) / "demo"
        summary = run_demo(folder, lanes=100, hours=1 if quick else 2, start=f"{DAY}T06:00:00Z",
                           xml_minutes=1)  # fmt: skip
        assert summary.execution_status == "SUCCEEDED", summary.execution_error
        config = Path(summary.config)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}
        server = subprocess.Popen(
            [sys.executable, "-m", "trafficlake.cli", "serve", "-c", str(config),
             "--port", str(port)],
            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, timeout=60) as client:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        client.get("/api/days").raise_for_status()
                        break
                    except httpx.TransportError:
                        if server.poll() is not None or time.monotonic() > deadline:
                            raise RuntimeError("trafficlake serve did not start") from None
                        time.sleep(0.1)
                top = client.get(f"/api/locations/congestion?day={DAY}").json()["locations"][0]
                roads = client.get("/api/roads").json()["roads"]
                road = max(roads, key=lambda r: len(r["sections"]))
                paths = _answers(top["lve_nr"], road["road"], road["direction"])
                times: dict[str, list[float]] = {name: [] for name in paths}
                for path in paths.values():  # warm: the server's first answer of each
                    client.get(path).raise_for_status()
                for _ in range(rounds):
                    for name, path in paths.items():
                        t0 = time.perf_counter()
                        client.get(path).raise_for_status()
                        times[name].append(time.perf_counter() - t0)
        finally:
            server.terminate()
            server.wait(timeout=30)
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            settings = load_settings(config)
            lake = Lake.from_settings(settings)
            opens: list[float] = []
            with open_catalog(settings) as catalog:  # the server's shared catalog and lake
                for _ in range(rounds):  # what each such request paid before: a new connection
                    t0 = time.perf_counter()
                    connect(settings, catalog=catalog, lake=lake).close()
                    opens.append(time.perf_counter() - t0)
        finally:
            os.chdir(cwd)
    opened = statistics.median(opens)
    median_answer = statistics.median(t for ts in times.values() for t in ts)
    out: list[dict[str, Any]] = [
        {"name": "a new catalog connection (in process, median)", "value": opened * 1000,
         "unit": "ms"},
    ]  # fmt: skip
    for name, ts in times.items():
        out.append(
            {"name": f"warm {name} answer, best / median", "value": min(ts) * 1000, "unit": "ms"}
        )
        out.append(
            {"name": f"  {name} median", "value": statistics.median(ts) * 1000, "unit": "ms"}
        )
    out.append(
        {"name": "a new connection / median warm answer", "value": opened / median_answer,
         "unit": "x"}
    )  # fmt: skip
    return out
