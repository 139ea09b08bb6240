"""``trafficlake aws serve``: one local endpoint speaking the AWS protocols boto3 and the AWS SDKs use.

Protocol only, no service logic:
- JSON 1.1: ``POST /`` with ``X-Amz-Target: <prefix><Operation>`` (Firehose, Glue, Step Functions,
  EventBridge, Athena), routed by target prefix to the adapter module registered in
  :data:`SERVICES`;
- the Lambda REST API: ``POST /2015-03-31/functions/NAME/invocations`` (Invoke), answered with
  the raw payload and ``X-Amz-Function-Error`` as Lambda does;
- AWS-shaped errors (``{"__type": code, "message": ...}`` with AWS's HTTP status);
- an optional shared token, sent as the AWS access key id (boto3 puts it in ``Authorization``)
  or in ``X-Trafficlake-Token``, required for every request when set.

The server is bounded whatever its clients do: requests are read on one asyncio event loop (a
slow or idle connection costs a socket and a buffer, never a thread; the HTTP framing of one
connection is :mod:`trafficlake.aws.connection`), complete requests run on a bounded pool of
daemon threads, and there are caps on connections, header and body sizes and an idle timeout.
A reply is one write on a ``TCP_NODELAY`` socket (no Nagle/delayed-ACK stall).
``shutdown()`` stops accepting, drops the connections and returns within a bounded time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import queue
import re
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson

from trafficlake.aws.connection import Connection, Reply, error_reply, json_reply
from trafficlake.aws.endpoint import SERVICES, Endpoint, EndpointServices, aws_context
from trafficlake.aws.service import AwsError
from trafficlake.config import Settings
from trafficlake.errors import ConfigError

log = logging.getLogger(__name__)

TOKEN_HEADER = "x-trafficlake-token"
LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


@dataclass(frozen=True)
class Limits:
    """The server's bounds (defaults sized for a laptop; every one is an ``[aws]`` setting)."""

    max_connections: int = 2048
    idle_timeout_s: float = 60.0
    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    max_body_bytes: int = 8 * 1024 * 1024
    workers: int = 64
    shutdown_grace_s: float = 5.0


def parse_json(body: bytes) -> Any:
    """A request body as ``json.loads`` reads it, parsed by orjson (about twice as fast on
    a 680 KB PutRecordBatch body); ``json`` takes what orjson refuses (``NaN``, a BOM, UTF-16,
    lone surrogates, deep nesting) and decides whenever orjson's result holds a float, which
    is where the two could differ (orjson reads an integer beyond 64 bits as a float)."""
    try:
        value = orjson.loads(body)
        if not _holds_float(value):
            return value
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise AwsError("SerializationException", "request body is not JSON") from None
    except RecursionError:
        raise AwsError("SerializationException", "request body nests too deeply") from None


def _holds_float(value: Any) -> bool:
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            extend(item.values())
        elif kind is list:
            extend(item)
        elif kind is float:
            return True
    return False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Workers:
    """A bounded pool of daemon threads (never joined at exit: shutdown stays bounded)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()

    def submit(
        self, loop: asyncio.AbstractEventLoop, fn: Callable[[], Reply]
    ) -> asyncio.Future[Reply]:
        future: asyncio.Future[Reply] = loop.create_future()
        self._tasks.put((loop, future, fn))
        with self._lock:
            if self._idle == 0 and len(self._threads) < self._size:
                t = threading.Thread(target=self._work, name="aws-worker", daemon=True)
                self._threads.append(t)
                self._idle += 1
                t.start()
        return future

    def _work(self) -> None:
        while True:
            item = self._tasks.get()
            if item is None:
                return
            with self._lock:
                self._idle -= 1
            loop, future, fn = item
            try:
                result: Any = fn()
                ok = True
            except BaseException as exc:  # delivered to the awaiting connection
                result, ok = exc, False
            with self._lock:
                self._idle += 1
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(_settle, future, result, ok)

    def stop(self) -> None:
        for _ in self._threads:
            self._tasks.put(None)


def _settle(future: asyncio.Future[Any], result: Any, ok: bool) -> None:
    if not future.done():
        if ok:
            future.set_result(result)
        else:
            future.set_exception(result)


class AwsServer:
    """The endpoint on one port: ``serve_forever()`` until ``shutdown()``, then ``close()``."""

    def __init__(
        self,
        endpoint: Endpoint | Callable[[str], Endpoint],
        host: str = "127.0.0.1",
        port: int = 4566,
        token: str = "",
        limits: Limits | None = None,
        insecure: bool = False,
    ) -> None:
        if not token and not is_loopback(host) and not insecure:
            raise ConfigError(
                f"refusing to serve on non-loopback address {host} without a token "
                "(set [aws] token or --token, or pass --insecure)"
            )
        self.token = token
        self.limits = limits or Limits()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((host, port))
            self._sock.listen(1024)
            # Bound first, so services learn the endpoint's real URL (port 0 picks one).
            self.endpoint = endpoint if isinstance(endpoint, Endpoint) else endpoint(self.url)
        except BaseException:
            self._sock.close()
            raise
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self.connections: set[Connection] = set()
        self.workers = _Workers(self.limits.workers)
        self._closed = False

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        if host in ("0.0.0.0", "::"):  # a wildcard bind: local clients use loopback
            host = "127.0.0.1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    # ---- lifecycle -----------------------------------------------------------------------
    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` (from another thread or a signal handler)."""
        try:
            asyncio.run(self._main())
        finally:
            self._stopped.set()

    def start(self) -> threading.Thread:
        """Serve in a background thread (for embedding and tests); returns once accepting."""
        thread = threading.Thread(target=self.serve_forever, name="aws-endpoint", daemon=True)
        thread.start()
        self._ready.wait(10)
        return thread

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop serving; returns once the loop has ended (or after ``timeout``)."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        elif not self._ready.is_set():
            self._stopped.set()
        self._stopped.wait(timeout)

    def close(self) -> None:
        """Close the socket and the services (flushing delivery streams). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.workers.stop()
        with contextlib.suppress(OSError):
            self._sock.close()
        self.endpoint.close()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stopped.is_set():
            return
        server = await self._loop.create_server(lambda: Connection(self), sock=self._sock)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for connection in list(self.connections):
                connection.abort()
            deadline = self._loop.time() + self.limits.shutdown_grace_s
            while self.connections and self._loop.time() < deadline:
                await asyncio.sleep(0.01)

    def authorised(self, headers: dict[str, str]) -> bool:
        if not self.token:
            return True
        sent = headers.get(TOKEN_HEADER)
        if sent is None:
            m = _CREDENTIAL.search(headers.get("authorization", ""))
            sent = m.group(1) if m else ""
        return hmac.compare_digest(sent.encode(), self.token.encode())

    # ---- routing (runs on a worker thread) -------------------------------------------------
    def dispatch(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        try:
            route = path.split("?", 1)[0]
            if method == "GET" and route == "/":
                return json_reply(200, self._describe())
            if method == "POST" and route == "/":
                return json_reply(200, self._json_call(headers, body))
            m = LAMBDA_INVOKE.match(route)
            if method == "POST" and m:
                return self._lambda_invoke(unquote(m.group(1)), headers, body)
            raise AwsError("UnknownOperationException", f"no operation at {method} {route}", 404)
        except AwsError as err:
            return error_reply(err)
        except Exception:
            log.exception("internal error")
            return error_reply(AwsError("InternalFailure", "internal error", 500))

    def _describe(self) -> dict[str, Any]:
        return {"service": "trafficlake aws", "services": sorted(self.endpoint.by_service)}

    def _json_call(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        target = headers.get("x-amz-target", "")
        if not target:
            raise AwsError("UnknownOperationException", "X-Amz-Target is required")
        request = parse_json(body or b"{}")
        if not isinstance(request, dict):
            raise AwsError("SerializationException", "request body is not a JSON object")
        return self.endpoint.call(target, request)

    def _lambda_invoke(self, name: str, headers: dict[str, str], body: bytes) -> Reply:
        request = {
            "FunctionName": name,
            "Payload": body,
            "InvocationType": headers.get("x-amz-invocation-type", "RequestResponse"),
            "LogType": headers.get("x-amz-log-type", "None"),
        }
        result = self.endpoint.call_service("lambda", "Invoke", request)
        out_headers = {
            "Content-Type": "application/json",
            "X-Amz-Executed-Version": str(result.get("ExecutedVersion", "$LATEST")),
        }
        if result.get("FunctionError"):
            out_headers["X-Amz-Function-Error"] = str(result["FunctionError"])
        if result.get("LogResult"):
            out_headers["X-Amz-Log-Result"] = str(result["LogResult"])
        payload = result.get("Payload", b"")
        return Reply(int(result.get("StatusCode", 200)), bytes(payload), out_headers)


def limits_from_settings(settings: Settings) -> Limits:
    a = settings.aws
    return Limits(
        max_connections=a.max_connections,
        idle_timeout_s=a.idle_timeout_s,
        max_body_bytes=a.max_body_bytes,
        workers=a.workers,
    )


def serve_settings(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    token: str | None = None,
    insecure: bool = False,
    services: Mapping[str, str] | None = None,
) -> AwsServer:
    """Bind the endpoint for ``settings`` (``[aws]`` host/port/token unless given) and open
    every service. The caller runs ``serve_forever()`` and ``close()``."""
    a = settings.aws
    host = a.host if host is None else host
    port = a.port if port is None else port
    token = (a.token or settings.delivery.token) if token is None else token
    return AwsServer(
        lambda url: Endpoint(aws_context(settings, url, token), services),
        host,
        port,
        token,
        limits_from_settings(settings),
        insecure,
    )


class LocalAws:
    """AWS services for a workflow run outside ``aws serve`` (``workflow run``, ``schedule
    run``): the first task that needs them starts a private endpoint on a free loopback port
    (every service but Firehose, whose streams belong to their own server), closed on exit."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._server: AwsServer | None = None
        self._lock = threading.Lock()

    def services(self) -> EndpointServices:
        with self._lock:
            if self._server is None:
                private = {k: v for k, v in SERVICES.items() if k != "firehose"}
                token = self.settings.aws.token or self.settings.delivery.token
                server = serve_settings(self.settings, "127.0.0.1", 0, token, services=private)
                server.start()
                self._server = server
            return EndpointServices(self._server.endpoint)

    def close(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.shutdown()
                self._server.close()
                self._server = None

    def __enter__(self) -> LocalAws:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
