"""The web API's SQL sandbox on an S3 lake: the lake's objects are readable, nothing else."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pyarrow as pa
import pytest
import uvicorn

from trafficlake.catalog.crawler import run_crawler
from trafficlake.config import Settings
from trafficlake.delivery import DeliveryStream
from trafficlake.miv.simulator import Simulator


def _serve(app: Any) -> tuple[uvicorn.Server, str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


@pytest.mark.slow
def test_user_sql_reads_the_s3_lake_and_nothing_else(
    s3_settings: Settings, s3_server: Any, s3_bucket: str
) -> None:
    from trafficlake.web import create_app

    events = pa.Table.from_batches(list(Simulator(seed=3, lanes=8).minutes(1_763_280_000, 5)))
    with DeliveryStream.from_settings(s3_settings) as stream:
        stream.put_events(events)
    assert run_crawler(s3_settings, "raw").status == "SUCCEEDED"
    # An object outside the lake prefix, in the same bucket.
    s3_server.client().put_object(Bucket=s3_bucket, Key="secret/x.csv", Body=b"a\n1\n")

    server, url = _serve(create_app(s3_settings))
    try:
        ok = httpx.post(url + "/api/query", json={"sql": "SELECT count(*) FROM traffic.raw"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["rows"] == [[events.num_rows]]
        for sql in (
            "SELECT * FROM read_text('/etc/passwd')",
            f"SELECT * FROM read_csv('s3://{s3_bucket}/secret/x.csv')",
        ):
            r = httpx.post(url + "/api/query", json={"sql": sql})
            assert r.status_code == 400, (sql, r.text)
            assert "Permission" in r.json()["error"] or "disabled" in r.json()["error"]
    finally:
        server.should_exit = True
