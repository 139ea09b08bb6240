"""POST /api/query is bounded: body size, a timeout that covers parsing and pruning, memory
and spill per statement in a private folder, and a bounded pool that answers 503 +
Retry-After instead of starving the dashboard."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from trafficlake.config import Settings

Served = Any  # conftest.Served


def wait_for_new_thread(
    prefix: str, before: set[threading.Thread], client: threading.Thread
) -> None:
    """Until a thread named ``prefix...`` that was not in ``before`` runs (the server is in
    this process); fails if ``client`` ends first or after a minute."""
    deadline = time.monotonic() + 60
    while not any(t.name.startswith(prefix) and t not in before for t in threading.enumerate()):
        assert client.is_alive(), "the request ended before its statement reached a worker"
        assert time.monotonic() < deadline, f"no {prefix} thread started"
        time.sleep(0.01)


def limited(settings: Settings, **web: Any) -> Settings:
    return dataclasses.replace(settings, web=dataclasses.replace(settings.web, **web))


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    lake_settings: Settings, serve: Any
) -> None:
    site = serve(limited(lake_settings, max_body_bytes=1000))
    big = {"sql": "SELECT 1 -- " + "x" * 5000}
    r = site.post("/api/query", json=big)
    assert r.status_code == 413 and r.json() == {"error": "request body over 1000 bytes"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"sql": "SELECT 1 -- '
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    r = httpx.post(site.url + "/api/query", content=chunks(), timeout=30)
    assert r.status_code == 413
    assert site.post("/api/query", json={"sql": "SELECT 42"}).json()["rows"] == [[42]]


def test_the_timeout_covers_parsing_and_pruning(lake_settings: Settings, serve: Any) -> None:
    site = serve(lake_settings, query_timeout_s=0.3)
    members = ",".join(str(i) for i in range(40_000))  # ~230 KB: seconds of parsing alone
    sql = f"SELECT count(*) FROM traffic.raw WHERE unieke_id IN ({members}) AND hour >= 0"
    r = site.post("/api/query", json={"sql": sql})
    assert r.status_code == 400 and r.json() == {"error": "query interrupted after 0.3 s"}


@pytest.mark.slow
def test_memory_and_spill_are_bounded_in_a_folder_the_sandbox_cannot_read(
    lake_settings: Settings, serve: Any
) -> None:
    site = serve(limited(lake_settings, query_memory_limit="64MB", query_temp_limit="1GB"))
    settings = (
        "SELECT current_setting('memory_limit'), current_setting('temp_directory'), "
        "current_setting('max_temp_directory_size')"
    )
    [[memory, temp_dir, temp_limit]] = site.post("/api/query", json={"sql": settings}).json()[
        "rows"
    ]
    assert memory == "61.0 MiB" and temp_limit == "953.6 MiB"
    assert "trafficlake-sql-" in temp_dir and not temp_dir.startswith(lake_settings.lake_url)
    r = site.post("/api/query", json={"sql": f"SELECT * FROM glob('{temp_dir}/*')"})
    assert r.status_code == 400 and "Permission Error" in r.json()["error"]
    big_sort = (
        "SELECT sum(x) FROM (SELECT x FROM (SELECT range AS x, md5(range::VARCHAR) AS h "
        "FROM range(3000000)) ORDER BY h LIMIT 2000000)"
    )
    assert site.post("/api/query", json={"sql": big_sort}).status_code == 200  # it spilled
    tiny = serve(limited(lake_settings, query_memory_limit="64MB", query_temp_limit="1MB"))
    r = tiny.post("/api/query", json={"sql": big_sort})
    assert r.status_code == 400 and "\n" not in r.json()["error"]


@pytest.mark.slow
def test_slow_queries_queue_then_get_503_and_the_dashboard_still_answers(
    lake_settings: Settings, serve: Any
) -> None:
    site = serve(
        limited(lake_settings, query_workers=1, query_queue=1, query_queue_wait_s=1.0),
        query_timeout_s=20,
    )
    # runs until interrupted: DuckDB counts a range at ~5e9 rows/s (1e11 took < 20 s on a quiet
    # machine), but hashes each row, ~2e8/s: 1e15 rows are weeks
    slow = {"sql": "SELECT sum(hash(range)) FROM range(1000000000000000)"}
    answers: list[httpx.Response] = []
    before = set(threading.enumerate())
    running = threading.Thread(target=lambda: answers.append(site.post("/api/query", json=slow)))
    running.start()
    try:
        # the pool starts its one thread when the slow statement has taken the only slot
        # (released only when that statement ends): from then on, the next one must wait
        wait_for_new_thread("user-sql", before, running)
        r = site.post("/api/query", json={"sql": "SELECT 1"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert r.json()["error"].startswith("too many queries (none finished within 1 s)")
        assert site.get("/api/days").status_code == 200  # the dashboard is not stuck behind
        assert running.is_alive()  # the slow one still runs
    finally:
        running.join()
    assert answers[0].json() == {"error": "query interrupted after 20 s"}
