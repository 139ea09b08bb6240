"""One client connection of the endpoint (:mod:`trafficlake.aws.server`), as an asyncio buffered
protocol: bytes are received straight into the connection's own buffers, with no task, stream
reader or extra copy per request.

One request at a time: the head is read into a head buffer (at most ``max_header_bytes``), the
body into chunks allocated as its bytes arrive (an idle connection that declared a large body
holds no more than it sent), then reading pauses while the request runs on the server's worker
pool, and its reply goes out as one write. Bytes of a pipelined next request wait in the head
buffer. A connection idle for ``idle_timeout_s`` (waiting for a request, for the rest of one, or
for the client to take a reply) is closed; a running request has no time limit here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import socket
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from trafficlake.aws.service import AwsError, EncodedReply

if TYPE_CHECKING:
    from trafficlake.aws.server import AwsServer

log = logging.getLogger(__name__)

HEAD_BUFFER = 16 * 1024
"""The head buffer's first size (it doubles while a head is longer, up to the header limit)."""
BODY_CHUNK = 1 << 20
"""The largest piece of a body allocated at once (a 680 KB PutRecordBatch body is one)."""


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    close: bool = False


def json_reply(status: int, payload: dict[str, Any], close: bool = False) -> Reply:
    if isinstance(payload, EncodedReply):
        data = payload.encoded
    else:
        data = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return Reply(status, data, {"Content-Type": "application/x-amz-json-1.1"}, close)


def error_reply(err: AwsError, close: bool = False) -> Reply:
    reply = json_reply(err.status, {"__type": err.code, "message": err.message}, close)
    reply.headers["x-amzn-ErrorType"] = err.code
    return reply


def encode_reply(reply: Reply) -> bytes:
    """Status line, headers and body as one buffer: one write per reply."""
    try:
        phrase = HTTPStatus(reply.status).phrase
    except ValueError:
        phrase = "Error"
    lines = [f"HTTP/1.1 {reply.status} {phrase}"]
    headers = {
        **reply.headers,
        "Content-Length": str(len(reply.body)),
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    if reply.close:
        headers["Connection"] = "close"
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body


def parse_head(head: bytes, max_headers: int) -> tuple[str, str, dict[str, str]]:
    """Method, path and headers (names in lower case) of a request head ending in CRLFCRLF;
    raises :class:`AwsError` for a malformed one."""
    request_line, *header_lines = head.decode("latin-1")[:-4].split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise AwsError("SerializationException", "malformed request line")
    if len(header_lines) > max_headers:
        raise AwsError("RequestHeaderFieldsTooLarge", f"more than {max_headers} headers", 431)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise AwsError("SerializationException", "malformed header line")
        key = name.lower()
        value = value.strip()
        unique = key in ("content-length", "x-amz-target", "authorization")
        if unique and key in headers and headers[key] != value:
            raise AwsError("SerializationException", f"conflicting {name} headers")
        headers[key] = value
    return parts[0], parts[1], headers


def content_length(method: str, headers: dict[str, str]) -> int:
    if "transfer-encoding" in headers:
        raise AwsError("SerializationException", "chunked request bodies are not supported", 411)
    raw = headers.get("content-length")
    if raw is None:
        if method == "POST":
            raise AwsError("InvalidArgumentException", "Content-Length is required", 411)
        return 0
    if not raw.isdigit():
        raise AwsError("SerializationException", "invalid Content-Length")
    return int(raw)


class Connection(asyncio.BufferedProtocol):
    """A connection's state between the event loop's callbacks (see the module docstring)."""

    def __init__(self, server: AwsServer) -> None:
        self.server = server
        self.limits = server.limits
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.head = bytearray(HEAD_BUFFER)
        self.filled = 0
        """Bytes of ``head`` received and not yet consumed."""
        self.request: tuple[str, str, dict[str, str]] | None = None
        self.length = 0
        self.chunks: list[bytearray] = []
        self.chunk_filled = 0
        self.received = 0
        """Body bytes received so far (``chunks`` hold them)."""
        self.reading_body = False
        self.discard = False
        """The body is read only to keep the connection usable (the request was refused)."""
        self.busy = False
        """A request runs, or its reply waits for the client to take it: nothing is read."""
        self.write_paused = False
        self.timer: asyncio.TimerHandle | None = None

    # ---- the transport's callbacks ----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connections = self.server.connections
        if len(connections) >= self.limits.max_connections:
            err = AwsError(
                "ThrottlingException",
                f"too many connections (limit {self.limits.max_connections})",
                503,
            )
            self._fail(err)
            return
        connections.add(self)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self._disarm()
        self.chunks = []

    def eof_received(self) -> bool:
        return False  # the client is done: close (a request cut short is dropped)

    def pause_writing(self) -> None:
        self.write_paused = True
        self._arm()  # the client has the idle time to take its reply

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.busy and self.request is None:  # a reply was waiting to drain
            self._next()

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.reading_body:
            if not self.chunks or self.chunk_filled == len(self.chunks[-1]):
                size = min(BODY_CHUNK, self.length - self.received)
                self.chunks.append(bytearray(size))
                self.chunk_filled = 0
            return memoryview(self.chunks[-1])[self.chunk_filled :]
        if self.filled == len(self.head):  # a long head: room for more (the limit is checked)
            self.head.extend(bytes(len(self.head)))
        return memoryview(self.head)[self.filled :]

    def buffer_updated(self, nbytes: int) -> None:
        self._arm()
        if self.reading_body:
            self.chunk_filled += nbytes
            self.received += nbytes
            if self.received == self.length:
                self._body_read()
            return
        self.filled += nbytes
        self._read_head()

    # ---- one request -----------------------------------------------------------------------
    def _read_head(self) -> None:
        limits = self.limits
        end = self.head.find(b"\r\n\r\n", 0, self.filled)
        if end < 0 or end + 4 > limits.max_header_bytes:
            if end >= 0 or self.filled > limits.max_header_bytes:
                err = AwsError(
                    "RequestHeaderFieldsTooLarge",
                    f"request headers exceed {limits.max_header_bytes} bytes",
                    431,
                )
                self._fail(err)
            return
        end += 4
        server = self.server
        try:
            method, path, headers = parse_head(bytes(self.head[:end]), limits.max_headers)
            length = content_length(method, headers)
        except AwsError as bad:
            self._fail(bad)
            return
        authorised = server.authorised(headers)
        if length > limits.max_body_bytes:  # refused from Content-Length alone, unread
            if not authorised:
                self._fail(_unrecognized())
                return
            lambda_call = path != "/"
            too_large = AwsError(
                "RequestTooLargeException" if lambda_call else "InvalidArgumentException",
                f"request body of {length} bytes exceeds the {limits.max_body_bytes}-byte "
                "request limit (4 MiB of data for Firehose)",
                413 if lambda_call else 400,
            )
            self._fail(too_large)
            return
        # Consumed: the head, and what came with it up to the body's length; the rest (a
        # pipelined request) stays. A new buffer, as the transport may still hold a view.
        taken = min(length, self.filled - end)
        body_start = bytearray(self.head[end : end + taken])
        rest = self.head[end + taken : self.filled]
        self.head = bytearray(max(HEAD_BUFFER, 2 * len(rest)))
        self.head[: len(rest)] = rest
        self.filled = len(rest)
        self.request = (method, path, headers)
        self.length, self.received = length, taken
        self.chunks, self.chunk_filled = ([body_start], taken) if taken else ([], 0)
        self.discard = not authorised
        self.reading_body = True
        if taken == length:
            self._body_read()

    def _body_read(self) -> None:
        assert self.transport is not None and self.request is not None
        self.reading_body = False
        chunks, self.chunks = self.chunks, []
        body = b"".join(chunks)  # one copy, as the request's bytes
        self.busy = True
        self._disarm()
        self.transport.pause_reading()
        if self.discard:  # answered from the loop's next turn (pipelined refusals never nest)
            self.loop.call_soon(self._reply_ready, error_reply(_unrecognized()))
            return
        method, path, headers = self.request
        future = self.server.workers.submit(
            self.loop, functools.partial(self.server.dispatch, method, path, headers, body)
        )
        future.add_done_callback(self._dispatched)

    def _dispatched(self, future: asyncio.Future[Reply]) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        try:
            reply = future.result()
        except BaseException:
            log.exception("connection failed")
            self.transport.close()
            return
        self._reply_ready(reply)

    def _reply_ready(self, reply: Reply) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        assert self.request is not None
        headers = self.request[2]
        reply.close = reply.close or headers.get("connection", "").lower() == "close"
        self.transport.write(encode_reply(reply))
        if reply.close:
            self.transport.close()
            return
        self.busy = True
        self.request = None
        if not self.write_paused:  # else resume_writing goes on once the client took it
            self._next()

    def _next(self) -> None:
        """Go on with the next request: what is buffered of it, then the socket."""
        assert self.transport is not None
        self.busy = False
        self.transport.resume_reading()
        self._arm()
        if self.filled:
            self._read_head()

    def _fail(self, err: AwsError) -> None:
        """Answer ``err`` and close the connection (what it sends next is never read)."""
        assert self.transport is not None
        self.transport.write(encode_reply(error_reply(err, close=True)))
        self.transport.close()

    # ---- the idle timeout ------------------------------------------------------------------
    def _arm(self) -> None:
        self._disarm()
        self.timer = self.loop.call_later(self.limits.idle_timeout_s, self._idle)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _idle(self) -> None:
        self.timer = None
        if self.transport is None or (self.busy and self.request is not None):
            return  # a request runs: it has no time limit here
        if self.write_paused:
            self.transport.abort()  # the client does not take its reply: close() would wait
        else:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection now (shutdown)."""
        if self.transport is not None:
            self.transport.abort()


def _unrecognized() -> AwsError:
    return AwsError(
        "UnrecognizedClientException", "The security token included in the request is invalid."
    )
