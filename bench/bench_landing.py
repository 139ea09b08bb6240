"""Landing: records/s through a DeliveryStream into Parquet with the WAL on (fsync per call).

Typed path: ``put_events`` in chunks of 4,600 rows (one full MIV feed document).
JSON path: ``put_record_batch`` with 500 all-string JSON records a call (the wire format), from
one caller and from 4 concurrent callers.
Converted path: the same JSON records into a created stream with record format conversion
(OpenX JSON SerDe → Parquet, the columns of a catalog table with the seed's Hive types), one
caller; target >= 100k records/s and >= 0.5x the typed path in the same run.
HTTP path: one boto3 caller sending the same 500-record calls to ``trafficlake aws serve`` (a
subprocess on loopback, the typed stream); target >= 50k records/s and >= 0.8x the same calls
in process. "In process" is the endpoint's path without HTTP: the same request bodies, parsed
as the server parses them, run by the same Firehose operation of an endpoint with the same
configuration. Measured interleaved (in process, boto3, raw HTTP, the stream alone, twice) with
CPU time per call on each side: the raw ``http.client`` sender, its bodies encoded beforehand,
shows what the endpoint costs without boto3's own client-side work; the stream alone takes the
decoded records (no JSON request, no base64). One synchronous caller waits for each reply, so
a call's wall time is the caller's CPU plus the endpoint's: the ratio cannot exceed
in-process / (in-process + boto3's CPU per call), reported as the ceiling (with the wall time
of this run, and with CPU time alone, what an idle machine would give).
Baseline: pyarrow writing the same rows straight to one zstd Parquet file, in the same run.
Target (docs/architecture.md, "Quality bars"): >= 100k records/s with the WAL on, on the typed path and one JSON caller.
Diagnostic rows split a JSON call's cost: its CPU time per call, every thread (parsing,
validation, casting, WAL framing) and one WAL-sized append + fdatasync alone on this disk; the
stream runs the two at once, so one caller is bound by the larger. On a shared machine the
wall-clock rows also carry waiting for a CPU; the CPU row does not. The slowest call of one
JSON caller filling 16 MB buffers is shown beside one 16 MB delivery timed in the caller (what
the call that filled a buffer used to wait for; the timer thread delivers it now): what is left
of the slowest call is the WAL's fdatasync and the CPU shared with the delivery running beside it.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trafficlake.delivery import DeliveryStream
from trafficlake.delivery.output import Output
from trafficlake.delivery.records import join_records
from trafficlake.delivery.serde import SerDeConverter
from trafficlake.delivery.wal import encode_json_call
from trafficlake.schema import EVENT_SCHEMA
from trafficlake.storage import Lake

TARGET = 100_000.0
HTTP_TARGET = 50_000.0
SEED_COLUMNS = [
    (
        f.name,
        "string"
        if pa.types.is_string(f.type)
        else "bigint"
        if f.name.startswith("tijd_")
        else "int",
    )
    for f in EVENT_SCHEMA
]
"""The seed's Hive types for these columns: ``string`` for text, ``int``/``bigint`` numbers."""


def make_events(n: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for f in EVENT_SCHEMA:
        if pa.types.is_string(f.type):
            cols[f.name] = pa.array([f"H{i % 4600:04d}L10" for i in range(n)])
        elif f.name.startswith("tijd_"):
            cols[f.name] = pa.array(1_763_700_000 + (np.arange(n) // 4600) * 60, f.type)
        elif f.name == "unieke_id":
            cols[f.name] = pa.array(np.arange(n) % 4600, f.type)
        else:
            hi = 2 if pa.types.is_int8(f.type) else 250
            cols[f.name] = pa.array(rng.integers(0, hi, n), f.type)
    return pa.table(cols, schema=EVENT_SCHEMA)


def _stream(root: Path, converted: bool = False) -> DeliveryStream:
    extra: dict[str, Any] = {}
    if converted:  # what a created stream with Parquet format conversion runs
        extra = {
            "converter": SerDeConverter(SEED_COLUMNS),
            "output": Output("parquet", "snappy", ".parquet"),
        }
    return DeliveryStream(
        Lake.from_url(str(root / "lake")),
        "bench",
        prefix="raw/year=!{timestamp:yyyy}/month=!{timestamp:M}/day=!{timestamp:d}/hour=!{timestamp:H}/",
        buffer_size_mb=128,
        buffer_interval_s=900,
        wal_dir=root / "wal",
        **extra,
    )


def _baseline(table: pa.Table, root: Path) -> float:
    t0 = time.perf_counter()
    pq.write_table(table, root / "baseline.parquet", compression="zstd")
    return table.num_rows / (time.perf_counter() - t0)


def _typed(table: pa.Table, root: Path) -> float:
    t0 = time.perf_counter()
    with _stream(root) as s:
        for start in range(0, table.num_rows, 4600):
            s.put_events(table.slice(start, 4600))
    return table.num_rows / (time.perf_counter() - t0)


def _json_call_bytes(table: pa.Table) -> int:
    """Bytes one call of these records adds to the WAL (a J frame: the records as received)."""
    raw = [r.encode() for r in _payloads(table)]
    return sum(len(p) for p in encode_json_call(0, raw, join_records(raw)))


def _payloads(table: pa.Table) -> list[str]:
    """The rows as the original pipeline's all-string JSON events."""
    rows = [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in table.to_pylist()]
    return [json.dumps(r) for r in rows]


def _fsync_alone(root: Path, size: int, rounds: int) -> float:
    """Median seconds of one ``size``-byte append + fdatasync (what one WAL append costs)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / "fsync.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    payload = os.urandom(size)
    times = []
    try:
        for _ in range(rounds):
            t0 = time.perf_counter()
            os.write(fd, payload)
            os.fdatasync(fd)
            times.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
    return float(np.median(times))


def _json(
    table: pa.Table,
    root: Path,
    callers: int = 1,
    cpu: list[float] | None = None,
    converted: bool = False,
) -> float:
    """JSON records, 500 a call, from ``callers`` threads (like concurrent HTTP clients).

    ``cpu`` (one caller) collects each call's CPU time, every thread of the process (the
    caller fsyncs while a converter thread converts); ``converted`` sends them to a
    stream with record format conversion instead of the typed stream.
    """
    payloads = [p.encode() for p in _payloads(table)]
    calls = [payloads[i : i + 500] for i in range(0, len(payloads), 500)]

    def send(s: DeliveryStream, mine: list[list[bytes]]) -> None:
        for records in mine:
            c0 = time.process_time()
            assert s.put_record_batch(records)["FailedPutCount"] == 0
            if cpu is not None:
                cpu.append(time.process_time() - c0)

    t0 = time.perf_counter()
    with _stream(root, converted) as s:
        threads = [
            threading.Thread(target=send, args=(s, calls[i::callers])) for i in range(callers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return len(payloads) / (time.perf_counter() - t0)


def _slowest_call(table: pa.Table, root: Path) -> tuple[float, float, float]:
    """One JSON caller into a 16 MB buffer that fills every ~23 calls: its median and slowest
    call (seconds), and one 16 MB delivery timed in the caller (``flush()``) for comparison."""
    payloads = [p.encode() for p in _payloads(table)]
    calls = [payloads[i : i + 500] for i in range(0, len(payloads), 500)]
    walls = []
    with DeliveryStream(
        Lake.from_url(str(root / "lake")),
        "bench",
        buffer_size_mb=16,
        buffer_interval_s=900,
        wal_dir=root / "wal",
    ) as s:
        for records in calls:
            t0 = time.perf_counter()
            s.put_record_batch(records)
            walls.append(time.perf_counter() - t0)
        s.flush()
        per_buffer = 16 * 1024 * 1024 // sum(map(len, calls[0])) - 1
        for records in calls[:per_buffer]:  # just below the size: nothing delivered yet
            s.put_record_batch(records)
        t0 = time.perf_counter()
        s.flush()
        delivery = time.perf_counter() - t0
    return float(np.median(walls)), max(walls), delivery


_SERVE_CONFIG = (
    '[lake]\nurl = "./lake"\n[delivery]\nbuffer_size_mb = 128\nbuffer_interval_s = 900\n'
)
"""The configuration of the endpoint and of its in-process twin (the typed stream ``miv``).
Each sender's turn gets a fresh one, so every sender's calls fill the buffer alike and pay a
delivery (a Parquet write inside the call that fills it) at the same calls."""
_PUT_RECORD_BATCH = "Firehose_20150804.PutRecordBatch"


def _request_bodies(calls: list[list[str]]) -> list[bytes]:
    """The PutRecordBatch request bodies of ``calls``, encoded as boto3 encodes them."""
    return [
        json.dumps(
            {
                "DeliveryStreamName": "miv",
                "Records": [{"Data": base64.b64encode(p.encode()).decode()} for p in c],
            }
        ).encode()
        for c in calls
    ]


class _Endpoint:
    """``trafficlake aws serve`` in a subprocess on loopback (the typed stream ``miv``), fed by
    one boto3 caller or by ``http.client`` sending request bodies encoded beforehand (the
    endpoint's own cost, without boto3's). Each send returns (seconds, caller CPU seconds,
    endpoint CPU seconds)."""

    def __init__(self, root: Path) -> None:
        import boto3

        root.mkdir(parents=True)
        (root / "trafficlake.toml").write_text(_SERVE_CONFIG)
        cmd = [sys.executable, "-m", "trafficlake.cli", "aws", "serve", "--port", "0"]
        self.proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        m = re.search(r"http://([\d.]+):(\d+)", self.proc.stdout.readline())
        assert m, "the endpoint did not start"
        self.client = boto3.client(
            "firehose",
            endpoint_url=m.group(0),
            region_name="eu-west-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self.client.list_delivery_streams()  # connect before the clock starts
        self.conn = http.client.HTTPConnection(m.group(1), int(m.group(2)))
        self.conn.connect()
        assert self.conn.sock is not None
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _cpu(self) -> float:
        """The endpoint process's CPU seconds so far (Linux ``/proc``; 0 elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def boto3(self, calls: list[list[str]]) -> tuple[float, float, float]:
        s0, c0, t0 = self._cpu(), time.process_time(), time.perf_counter()
        for records in calls:
            reply = self.client.put_record_batch(
                DeliveryStreamName="miv", Records=[{"Data": p} for p in records]
            )
            assert reply["FailedPutCount"] == 0
        return time.perf_counter() - t0, time.process_time() - c0, self._cpu() - s0

    def raw(self, bodies: list[bytes]) -> tuple[float, float, float]:
        headers = {"X-Amz-Target": _PUT_RECORD_BATCH, "Content-Type": "application/x-amz-json-1.1"}
        s0, c0, t0 = self._cpu(), time.process_time(), time.perf_counter()
        for body in bodies:
            self.conn.request("POST", "/", body=body, headers=headers)
            reply = self.conn.getresponse()
            assert reply.status == 200 and json.loads(reply.read())["FailedPutCount"] == 0
        return time.perf_counter() - t0, time.process_time() - c0, self._cpu() - s0

    def close(self) -> None:
        self.conn.close()
        self.proc.terminate()
        self.proc.wait(60)


def _in_process(root: Path, bodies: list[bytes]) -> tuple[float, float]:
    """The endpoint's path without HTTP: the same request bodies, each parsed as the server
    parses it and run by the same Firehose operation of the same kind of endpoint (same
    configuration, the typed stream ``miv`` with its WAL), timed like the HTTP senders (the
    calls only, not the final flush); (seconds, CPU seconds of every thread)."""
    from trafficlake.aws.endpoint import SERVICES, Endpoint, aws_context
    from trafficlake.aws.server import parse_json
    from trafficlake.config import load_settings

    root.mkdir(parents=True)
    (root / "trafficlake.toml").write_text(_SERVE_CONFIG)
    settings = load_settings(root / "trafficlake.toml")
    endpoint = Endpoint(aws_context(settings, ""), {"firehose": SERVICES["firehose"]})
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        for body in bodies:
            assert endpoint.call(_PUT_RECORD_BATCH, parse_json(body))["FailedPutCount"] == 0
        return time.perf_counter() - t0, time.process_time() - c0
    finally:
        endpoint.close()


def _stream_alone(root: Path, calls: list[list[str]]) -> tuple[float, float]:
    """The decoded records (bytes) straight to a stream's ``put_record_batch``: no JSON
    request, no base64 (what a caller in the same process would do)."""
    records = [[p.encode() for p in c] for c in calls]
    with _stream(root) as s:
        c0, t0 = time.process_time(), time.perf_counter()
        for r in records:
            assert s.put_record_batch(r)["FailedPutCount"] == 0
        return time.perf_counter() - t0, time.process_time() - c0


def _http(table: pa.Table, root: Path, rounds: int) -> dict[str, list[float]]:
    """In process, boto3 over HTTP, raw HTTP and the stream alone, interleaved ``rounds``
    times (A, B, C, D, A, ...), each turn on a fresh endpoint or stream; totals per sender:
    [seconds, caller CPU, endpoint CPU, calls]."""
    payloads = _payloads(table)
    calls = [payloads[i : i + 500] for i in range(0, len(payloads), 500)]
    bodies = _request_bodies(calls)
    totals = {k: [0.0, 0.0, 0.0, 0.0] for k in ("in-process", "boto3", "raw", "stream")}

    def over_http(where: Path, send: str) -> tuple[float, float, float]:
        endpoint = _Endpoint(where)
        try:
            return endpoint.boto3(calls) if send == "boto3" else endpoint.raw(bodies)
        finally:
            endpoint.close()

    for k in range(rounds):
        for name, (wall, cpu, server) in (
            ("in-process", (*_in_process(root / f"in-process{k}", bodies), 0.0)),
            ("boto3", over_http(root / f"boto3-{k}", "boto3")),
            ("raw", over_http(root / f"raw-{k}", "raw")),
            ("stream", (*_stream_alone(root / f"stream{k}", calls), 0.0)),
        ):
            for i, v in enumerate((wall, cpu, server, len(calls))):
                totals[name][i] += v
    return totals


def run(quick: bool) -> list[dict[str, Any]]:
    n = 460_000 if quick else 2_760_000  # 100 / 600 feed documents
    n_json = 100_000 if quick else 300_000
    table = make_events(n)
    root = Path(tempfile.mkdtemp(prefix="bench-landing-"))
    try:
        base = _baseline(table, root)
        typed = _typed(table, root / "typed")
        base_json = _baseline(table.slice(0, n_json), root)
        cpu: list[float] = []
        js = _json(table.slice(0, n_json), root / "json", cpu=cpu)
        js4 = _json(table.slice(0, n_json), root / "json4", callers=4)
        typed_again = _typed(table, root / "typed2")  # the converted path's baseline, adjacent
        conv = _json(table.slice(0, n_json), root / "converted", converted=True)
        js_again = _json(table.slice(0, n_json), root / "json-again")
        http = _http(table.slice(0, n_json // 2), root / "http", rounds=2)
        median_call, slowest_call, delivery = _slowest_call(
            table.slice(0, n_json), root / "slowest"
        )
        wal_bytes = _json_call_bytes(table.slice(0, 500))
        fsync_s = _fsync_alone(root / "fsync", wal_bytes, 100 if quick else 500)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def rate(totals: list[float]) -> float:
        return 500 * totals[3] / totals[0]

    def per_call(totals: list[float], i: int) -> float:
        return 1000 * totals[i] / totals[3]

    ip, bt, rw = http["in-process"], http["boto3"], http["raw"]

    return [
        {"name": "pyarrow write_table zstd (baseline)", "value": base, "unit": "rows/s"},
        {
            "name": f"put_events typed, WAL on ({n:,} rows)",
            "value": typed,
            "unit": "rows/s",
            "baseline": base,
            "ratio": typed / base,
            "target": f">= {TARGET:,.0f} rows/s",
            "ok": typed >= TARGET,
        },
        {
            "name": f"put_record_batch JSON, WAL on ({n_json:,} rows)",
            "value": js,
            "unit": "rows/s",
            "baseline": base_json,
            "ratio": js / base_json,
            "target": f">= {TARGET:,.0f} rows/s",
            "ok": js >= TARGET,
        },
        {
            "name": "put_record_batch JSON, WAL on, 4 callers",
            "value": js4,
            "unit": "rows/s",
            "baseline": base_json,
            "ratio": js4 / base_json,
        },
        {
            "name": "put_record_batch JSON converted to Parquet (SerDe)",
            "value": conv,
            "unit": "rows/s",
            "baseline": typed_again,
            "ratio": conv / typed_again,
            "target": f">= {TARGET:,.0f} rows/s and >= 0.5x typed",
            "ok": conv >= TARGET and conv >= 0.5 * typed_again,
        },
        {
            "name": "  converted vs the typed stream taking the same JSON",
            "value": conv,
            "unit": "rows/s",
            "baseline": js_again,
            "ratio": conv / js_again,
        },
        {
            "name": "boto3 one caller over HTTP (aws serve)",
            "value": rate(http["boto3"]),
            "unit": "rows/s",
            "baseline": rate(http["in-process"]),
            "ratio": rate(http["boto3"]) / rate(http["in-process"]),
            "target": f">= {HTTP_TARGET:,.0f} rows/s and >= 0.8x in-process",
            "ok": rate(http["boto3"]) >= HTTP_TARGET
            and rate(http["boto3"]) >= 0.8 * rate(http["in-process"]),
        },
        {
            "name": "  raw HTTP one caller (http.client, bodies ready)",
            "value": rate(http["raw"]),
            "unit": "rows/s",
            "baseline": rate(http["in-process"]),
            "ratio": rate(http["raw"]) / rate(http["in-process"]),
        },
        {
            "name": "  the stream alone (decoded records, no request)",
            "value": rate(http["stream"]),
            "unit": "rows/s",
            "baseline": rate(http["in-process"]),
            "ratio": rate(http["stream"]) / rate(http["in-process"]),
        },
        {"name": "  per call: in process, wall", "value": per_call(ip, 0), "unit": "ms"},
        {
            "name": "  per call: in process, CPU (all threads)",
            "value": per_call(ip, 1),
            "unit": "ms",
        },
        {"name": "  per call: boto3 over HTTP, wall", "value": per_call(bt, 0), "unit": "ms"},
        {
            "name": "  per call: boto3 caller CPU (validate, serialise, sign, parse)",
            "value": per_call(bt, 1),
            "unit": "ms",
        },
        {"name": "  per call: endpoint CPU (boto3 caller)", "value": per_call(bt, 2), "unit": "ms"},
        {
            "name": "  per call: neither CPU (wire, fsync wait, wake-ups)",
            "value": per_call(bt, 0) - per_call(bt, 1) - per_call(bt, 2),
            "unit": "ms",
        },
        {
            "name": "  per call: endpoint CPU (raw HTTP caller)",
            "value": per_call(rw, 2),
            "unit": "ms",
        },
        {
            "name": "  ceiling of the ratio: in process wall / (it + boto3's CPU)",
            "value": per_call(ip, 0) / (per_call(ip, 0) + per_call(bt, 1)),
            "unit": "x",
        },
        {
            "name": "  the same on idle cores (CPU only: no fsync or CPU wait)",
            "value": per_call(ip, 1) / (per_call(ip, 1) + per_call(bt, 1)),
            "unit": "x",
        },
        {
            "name": "  JSON call: CPU per 500 records, all threads (median)",
            "value": float(np.median(cpu)) * 1000,
            "unit": "ms",
        },
        {
            "name": f"  WAL append of {wal_bytes:,} bytes + fdatasync alone (median)",
            "value": fsync_s * 1000,
            "unit": "ms",
        },
        {
            "name": "  JSON one caller, 16 MB buffers: slowest call",
            "value": slowest_call * 1000,
            "unit": "ms",
        },
        {"name": "    its median call", "value": median_call * 1000, "unit": "ms"},
        {
            "name": "    one 16 MB delivery, timed in a caller",
            "value": delivery * 1000,
            "unit": "ms",
        },
        {
            "name": "  JSON one caller, bound by max(CPU, fsync) (they overlap)",
            "value": 500 / max(float(np.median(cpu)), fsync_s),
            "unit": "rows/s",
        },
    ]
