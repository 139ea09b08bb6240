"""The AWS endpoint (`trafficlake aws serve` as a subprocess, boto3 as the client).

- A state machine's poll loop: boto3 ``glue.get_crawler`` every 50 ms, median per call, against
  the library call the Glue adapter makes (``get_crawler`` + the last finished crawl) in this
  process. Target: the endpoint adds < 5 ms per call.
- Under 1,000 slow connections (each has sent half a request and stalls): one normal
  500-record ``PutRecordBatch`` answers in < 1 s (baseline: the same call with no slow
  connections), and SIGTERM ends the server within 10 s.
"""

from __future__ import annotations

import json
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "aws"))

from aws_helpers import boto, start_endpoint  # noqa: E402

POLL_S = 0.05
ADDED_TARGET_MS = 5.0
SLOW = 1000


def _records(n: int) -> list[dict[str, bytes]]:
    out = []
    for i in range(n):
        rec = {
            "beschrijvende_id": f"H{i:04d}L10",
            "unieke_id": str(i),
            "lve_nr": str(i % 97),
            "tijd_waarneming": str(int(time.time()) - 120),
            "tijd_laatst_gewijzigd": str(int(time.time()) - 90),
            "actueel_publicatie": "1",
            "beschikbaar": "1",
            "defect": "0",
            "geldig": "0",
        }
        out.append({"Data": json.dumps(rec).encode()})
    return out


def _poll(url: str, calls: int) -> float:
    glue = boto(url, "glue", read_timeout=30)
    glue.get_crawler(Name="raw")  # warm the connection
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        reply = glue.get_crawler(Name="raw")["Crawler"]
        times.append(time.perf_counter() - t0)
        assert reply["State"] == "READY"
        time.sleep(POLL_S)
    return statistics.median(times) * 1000


def _library(folder: Path, calls: int) -> float:
    from trafficlake.catalog import open_catalog
    from trafficlake.catalog.crawler import get_crawler
    from trafficlake.catalog.glue import last_finished_crawl
    from trafficlake.config import load_settings

    settings = load_settings(folder / "trafficlake.toml")
    times = []
    with open_catalog(settings) as catalog:
        for _ in range(calls):
            t0 = time.perf_counter()
            last_finished_crawl(catalog, get_crawler(catalog, settings, "raw"))
            times.append(time.perf_counter() - t0)
            time.sleep(POLL_S)
    return statistics.median(times) * 1000


def _put_batch(url: str) -> float:
    firehose = boto(url, "firehose", read_timeout=30)
    records = _records(500)
    t0 = time.perf_counter()
    reply = firehose.put_record_batch(DeliveryStreamName="miv", Records=records)
    elapsed = time.perf_counter() - t0
    assert reply["FailedPutCount"] == 0, reply
    return elapsed


def run(quick: bool) -> list[dict[str, Any]]:
    calls = 30 if quick else 200
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-aws-") as tmp:
        folder = Path(tmp)
        (folder / "trafficlake.toml").write_text('[lake]\nurl = "./lake"\n')
        proc, url = start_endpoint(folder)
        try:
            lib_ms = _library(folder, calls)
            http_ms = _poll(url, calls)
            added = http_ms - lib_ms
            out.append({"name": "GetCrawler via library (median)", "value": lib_ms, "unit": "ms"})
            out.append(
                {
                    "name": "GetCrawler via boto3 + endpoint (median)",
                    "value": http_ms,
                    "unit": "ms",
                    "baseline": lib_ms,
                    "ratio": http_ms / lib_ms if lib_ms else float("inf"),
                }
            )
            out.append(
                {
                    "name": "endpoint adds per poll",
                    "value": added,
                    "unit": "ms",
                    "target": f"< {ADDED_TARGET_MS} ms",
                    "ok": added < ADDED_TARGET_MS,
                }
            )

            base = min(_put_batch(url) for _ in range(3))
            host, port = url.removeprefix("http://").split(":")
            slow = []
            for i in range(SLOW):
                s = socket.create_connection((host, int(port)), timeout=10)
                s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{" if i % 2 else b"POS")
                slow.append(s)
            time.sleep(0.5)
            loaded = max(_put_batch(url) for _ in range(3))
            out.append(
                {
                    "name": f"PutRecordBatch(500) under {SLOW} slow connections",
                    "value": loaded,
                    "unit": "s",
                    "baseline": base,
                    "ratio": loaded / base,
                    "target": "< 1 s",
                    "ok": loaded < 1.0,
                }
            )
            t0 = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(60)
            stop = time.perf_counter() - t0
            out.append(
                {
                    "name": f"SIGTERM to exit with {SLOW} slow connections open",
                    "value": stop,
                    "unit": "s",
                    "target": "< 10 s, exit 0",
                    "ok": stop < 10 and code == 0,
                }
            )
            for s in slow:
                s.close()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    return out
