"""A small real lake (two event days) and the web app on a real uvicorn server on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from trafficlake.config import Settings, load_settings

DAY1 = "2026-11-16"  # 06:00-08:00 UTC: the demo's morning, with jams
DAY2 = "2026-11-17"  # 06:00-07:00 UTC: added afterwards by a second batch run


@dataclass
class Served:
    url: str
    settings: Settings

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.post(self.url + path, timeout=60, **kw)


def start_server(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Run ``app`` on uvicorn at 127.0.0.1:<ephemeral port> in a thread; return its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def serve() -> Iterator[Callable[..., Served]]:
    """Start the app for some settings on a real server; every server stops with the session."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def _serve(settings: Settings, **options: Any) -> Served:
        from trafficlake.web import create_app

        server, thread, url = start_server(create_app(settings, **options))
        running.append((server, thread))
        return Served(url, settings)

    yield _serve
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def lake_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A lake built by the real pipeline: the demo's two hours on DAY1, one more hour on DAY2
    (crawled, transformed, jams and detector health derived)."""
    from trafficlake import ingest
    from trafficlake.demo import run_demo
    from trafficlake.roads.derive import derive
    from trafficlake.workflow.library import run_workflow

    folder = tmp_path_factory.mktemp("weblake") / "d"
    summary = run_demo(folder, lanes=100, hours=2, start=f"{DAY1}T06:00:00Z", xml_minutes=2)
    assert summary.execution_status == "SUCCEEDED", summary.execution_error
    settings = load_settings(Path(summary.config))
    ingest.simulate(settings, minutes=60, lanes=100, start=f"{DAY2}T06:00:00+00:00")
    result = run_workflow(settings, "batch", {})
    assert result.status == "SUCCEEDED", result.error
    assert derive(settings).state == "SUCCEEDED"  # jams and detector health of DAY2 too
    return settings


@pytest.fixture(scope="session")
def site(lake_settings: Settings, serve: Callable[..., Served]) -> Served:
    return serve(lake_settings)
