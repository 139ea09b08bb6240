"""MivClient against a real HTTP server on loopback that plays back scripted responses."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa
import pytest

from trafficlake.miv.client import MivClient, MivUnavailableError
from trafficlake.miv.feed import FeedParseError, ParsedFeed
from trafficlake.miv.simulator import Simulator


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    etag: str | None = None
    """When set: answer 304 if the request's If-None-Match equals it, else send it as ETag."""


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]


class ScriptedServer:
    """Replies per path from a script; the last reply of a path repeats."""

    def __init__(self) -> None:
        self.script: dict[str, list[Reply]] = {}
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with server.lock:
                    server.requests.append(Recorded(self.path, dict(self.headers.items())))
                    replies = server.script.get(self.path, [Reply(404, b"not found")])
                    reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                status, body, headers = reply.status, reply.body, dict(reply.headers)
                if reply.etag is not None:
                    if self.headers.get("If-None-Match") == reply.etag:
                        status, body = 304, b""
                    headers["ETag"] = reply.etag
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def paths(self) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests]


@pytest.fixture
def miv_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


T0 = 1767261600  # 2026-01-01T10:00:00Z


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(seed=11, lanes=120, clean=True)


def client(server: ScriptedServer, **kw: object) -> MivClient:
    options: dict[str, object] = {"timeout_s": 2.0, "retries": 2, "backoff_s": 0.01}
    options.update(kw)
    return MivClient(server.url("/miv/verkeersdata"), server.url("/miv/config"), **options)  # type: ignore[arg-type]


def test_200_gives_the_parsed_document(miv_server: ScriptedServer, sim: Simulator) -> None:
    batch = sim.minute(T0)
    miv_server.script["/miv/verkeersdata"] = [Reply(body=sim.to_xml(batch))]
    with client(miv_server) as c:
        feed = c.fetch_feed()
    assert isinstance(feed, ParsedFeed)
    assert feed.events.equals(pa.Table.from_batches([batch]))


def test_304_uses_the_etag_and_last_modified_of_the_previous_answer(
    miv_server: ScriptedServer, sim: Simulator
) -> None:
    modified = "Thu, 01 Jan 2026 10:01:54 GMT"
    miv_server.script["/miv/verkeersdata"] = [
        Reply(body=sim.to_xml(sim.minute(T0)), etag='"m1"', headers={"Last-Modified": modified})
    ]
    with client(miv_server) as c:
        assert c.fetch_feed() is not None
        assert c.fetch_feed() is None
    first, second = miv_server.requests
    assert "If-None-Match" not in first.headers
    assert second.headers["If-None-Match"] == '"m1"'
    assert second.headers["If-Modified-Since"] == modified


def test_500_then_200_is_retried(miv_server: ScriptedServer, sim: Simulator) -> None:
    miv_server.script["/miv/verkeersdata"] = [
        Reply(500, b"oops"),
        Reply(503, b"busy"),
        Reply(body=sim.to_xml(sim.minute(T0))),
    ]
    with client(miv_server) as c:
        assert c.fetch_feed() is not None
    assert len(miv_server.requests) == 3


def test_persistent_500_names_the_server_and_the_status(miv_server: ScriptedServer) -> None:
    miv_server.script["/miv/verkeersdata"] = [Reply(500, b"oops")]
    with client(miv_server, retries=1) as c, pytest.raises(MivUnavailableError) as info:
        c.fetch_feed()
    assert str(info.value) == (
        f"cannot reach {miv_server.url('/miv/verkeersdata')}: "
        "HTTP 500 Internal Server Error (after 2 attempts)"
    )
    assert len(miv_server.requests) == 2


def test_timeout_is_retried_then_reported(miv_server: ScriptedServer, sim: Simulator) -> None:
    body = sim.to_xml(sim.minute(T0))
    miv_server.script["/miv/verkeersdata"] = [Reply(body=body, delay_s=1.0), Reply(body=body)]
    with client(miv_server, timeout_s=0.3) as c:
        assert c.fetch_feed() is not None  # first answer too late, second in time
    miv_server.script["/miv/verkeersdata"] = [Reply(body=body, delay_s=1.0)]
    unreachable = r"^cannot reach http://127\.0\.0\.1:\d+/.*timed out"
    with (
        client(miv_server, timeout_s=0.3, retries=0) as c,
        pytest.raises(MivUnavailableError, match=unreachable),
    ):
        c.fetch_feed()


def test_garbage_body_is_a_parse_error_not_retried(miv_server: ScriptedServer) -> None:
    miv_server.script["/miv/verkeersdata"] = [Reply(body=b"<html><body>maintenance</body>")]
    with client(miv_server) as c, pytest.raises(FeedParseError) as info:
        c.fetch_feed()
    assert len(miv_server.requests) == 1
    assert info.value.document == b"<html><body>maintenance</body>"  # for quarantine


def test_404_fails_at_once(miv_server: ScriptedServer) -> None:
    with client(miv_server) as c, pytest.raises(MivUnavailableError, match="HTTP 404"):
        c.fetch_config()
    assert len(miv_server.requests) == 1


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/miv/verkeersdata"
    with (
        MivClient(url, url, timeout_s=1.0, retries=1, backoff_s=0.01) as c,
        pytest.raises(MivUnavailableError) as info,
    ):
        c.fetch_feed()
    message = str(info.value)
    assert message.startswith(f"cannot reach {url}: ") and message.endswith("(after 2 attempts)")


def test_fetch_config(miv_server: ScriptedServer, sim: Simulator) -> None:
    miv_server.script["/miv/config"] = [Reply(body=sim.config_xml())]
    with client(miv_server) as c:
        assert c.fetch_config().equals(sim.network)


def test_poll_feeds_documents_and_refetches_config_on_change(
    miv_server: ScriptedServer, sim: Simulator
) -> None:
    docs = [sim.to_xml(sim.minute(T0 + 60 * i)) for i in range(3)]
    changed = docs[2].replace(b"2026-01-05T14:42:06+01:00", b"2026-01-06T09:00:00+01:00")
    miv_server.script["/miv/verkeersdata"] = [
        Reply(body=docs[0], etag='"a"'),
        Reply(body=docs[0], etag='"a"'),  # unchanged: 304, skipped
        Reply(body=docs[1], etag='"b"'),
        Reply(body=changed, etag='"c"'),
    ]
    miv_server.script["/miv/config"] = [Reply(body=sim.config_xml())]
    feeds: list[ParsedFeed] = []
    configs: list[pa.Table] = []
    with client(miv_server) as c:
        polls = c.poll(0.01, threading.Event(), feeds.append, 4, on_config=configs.append)
    assert polls == 4
    assert [f.events.column("tijd_waarneming")[0].as_py() for f in feeds] == [T0, T0 + 60, T0 + 120]
    assert len(configs) == 2  # at start, and after tijd_laatste_config_wijziging changed
    assert miv_server.paths().count("/miv/config") == 2


def test_poll_stops_on_event_and_reports_errors(miv_server: ScriptedServer) -> None:
    miv_server.script["/miv/verkeersdata"] = [Reply(body=b"garbage")]
    errors: list[Exception] = []
    with client(miv_server) as c:  # errors are reported and polling goes on
        polls = c.poll(0.0, threading.Event(), lambda f: None, 3, on_error=errors.append)
    assert polls == 3 and len(errors) == 3
    assert all(isinstance(e, FeedParseError) for e in errors)
    stop = threading.Event()

    def stop_soon(exc: Exception) -> None:  # while the poller waits out its hour
        errors.append(exc)
        threading.Timer(0.2, stop.set).start()

    with client(miv_server) as c:  # the stop ends the wait (else this test times out)
        assert c.poll(3600.0, stop, lambda f: None, on_error=stop_soon) == 1
    assert len(errors) == 4
    with client(miv_server) as c, pytest.raises(FeedParseError):
        c.poll(0.01, threading.Event(), lambda f: None, 3)
