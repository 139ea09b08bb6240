"""``firehose serve``: the Firehose JSON 1.1 protocol over HTTP, in front of delivery streams.

Speaks what boto3's ``firehose`` client sends (``POST /`` with ``X-Amz-Target:
Firehose_20150804.<Operation>`` and an ``application/x-amz-json-1.1`` body): PutRecord,
PutRecordBatch, DescribeDeliveryStream, ListDeliveryStreams and CreateDeliveryStream (DirectPut,
S3 destination: Prefix, ErrorOutputPrefix, BufferingHints; saved next to its WAL). Errors are AWS-shaped
(``{"__type": ..., "message": ...}``). Built on the standard library's ThreadingHTTPServer: no
extra dependency, and full control over reading the body, so Content-Length is checked before
a byte of it is read. Optional shared secret: the client sends it as its AWS access key id
(boto3 puts that in the ``Authorization`` header) or in an ``X-Trafficlake-Token`` header.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from trafficlake.config import Settings
from trafficlake.delivery.prefix import InvalidPrefixError
from trafficlake.delivery.registry import StreamExistsError, StreamRegistry
from trafficlake.delivery.stream import (
    MAX_BATCH_RECORDS,
    MAX_CALL_BYTES,
    DeliveryStream,
    InvalidArgumentError,
    StreamClosedError,
)
from trafficlake.delivery.wal import WalWriteError
from trafficlake.errors import StorageError

log = logging.getLogger(__name__)

TARGET_PREFIX = "Firehose_20150804."
TOKEN_HEADER = "X-Trafficlake-Token"
# A body can hold at most 4 MiB of data, base64-encoded (4/3), plus JSON framing per record.
MAX_BODY_BYTES = MAX_CALL_BYTES * 4 // 3 + 64 * MAX_BATCH_RECORDS + 64 * 1024
# Bodies up to this size are read and discarded (so the client sees the error reply);
# larger ones are refused without reading and the connection is closed.
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


class ApiError(Exception):
    """An AWS-shaped error reply."""

    def __init__(self, type_: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message
        self.status = status


class FirehoseAPI:
    """The operations, independent of HTTP: ``call(operation, body) -> reply``."""

    def __init__(
        self, streams: dict[str, DeliveryStream], registry: StreamRegistry | None = None
    ) -> None:
        self.streams = streams
        self.registry = registry

    def _stream(self, body: dict[str, Any]) -> DeliveryStream:
        name = body.get("DeliveryStreamName")
        if not isinstance(name, str):
            raise ApiError("InvalidArgumentException", "DeliveryStreamName is required")
        stream = self.streams.get(name)
        if stream is None:
            raise ApiError(
                "ResourceNotFoundException",
                f"Firehose {name} under account 000000000000 not found.",
            )
        return stream

    @staticmethod
    def _data(record: Any, where: str) -> bytes:
        if not isinstance(record, dict) or not isinstance(record.get("Data"), str):
            raise ApiError("InvalidArgumentException", f"{where}: Data (base64) is required")
        try:
            return base64.b64decode(record["Data"], validate=True)
        except (binascii.Error, ValueError):
            raise ApiError("SerializationException", f"{where}: Data is not base64") from None

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.registry is None:
            raise ApiError("InvalidArgumentException", "this server cannot create streams")
        if body.get("DeliveryStreamType", "DirectPut") != "DirectPut":
            raise ApiError("InvalidArgumentException", "only DirectPut streams are supported")
        destination = (
            body.get("ExtendedS3DestinationConfiguration")
            or body.get("S3DestinationConfiguration")
            or {}
        )
        if not isinstance(destination, dict):
            raise ApiError("InvalidArgumentException", "the S3 destination must be an object")
        name = body.get("DeliveryStreamName")
        stream = self.registry.create(name if isinstance(name, str) else "", destination)
        return {"DeliveryStreamARN": stream.describe()["DeliveryStreamARN"]}

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            if operation == "PutRecordBatch":
                stream = self._stream(body)
                records = body.get("Records")
                if not isinstance(records, list):
                    raise ApiError("InvalidArgumentException", "Records must be a list")
                if len(records) > MAX_BATCH_RECORDS:  # before decoding anything
                    raise InvalidArgumentError(
                        f"Records has {len(records)} records; the limit is {MAX_BATCH_RECORDS}"
                    )
                datas = [self._data(r, f"Records[{i}]") for i, r in enumerate(records)]
                return stream.put_record_batch(datas)  # type: ignore[arg-type]
            if operation == "PutRecord":
                stream = self._stream(body)
                return stream.put_record(self._data(body.get("Record"), "Record"))
            if operation == "CreateDeliveryStream":
                return self._create(body)
            if operation == "DescribeDeliveryStream":
                return {"DeliveryStreamDescription": self._stream(body).describe()}
            if operation == "ListDeliveryStreams":
                names = sorted(self.streams)
                start = body.get("ExclusiveStartDeliveryStreamName")
                if isinstance(start, str):
                    names = [n for n in names if n > start]
                limit = body.get("Limit", 10000)
                limit = limit if isinstance(limit, int) and limit > 0 else 10000
                return {
                    "DeliveryStreamNames": names[:limit],
                    "HasMoreDeliveryStreams": len(names) > limit,
                }
        except (InvalidArgumentError, InvalidPrefixError) as exc:
            raise ApiError("InvalidArgumentException", str(exc)) from None
        except StreamExistsError as exc:
            raise ApiError("ResourceInUseException", str(exc)) from None
        except (StreamClosedError, WalWriteError, StorageError) as exc:
            raise ApiError("ServiceUnavailableException", str(exc), 503) from None
        raise ApiError("UnknownOperationException", f"unknown operation {operation!r}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FirehoseHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _reply(self, status: int, payload: dict[str, Any], close: bool = False) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _error(self, err: ApiError, close: bool = False) -> None:
        self._reply(err.status, {"__type": err.type, "message": err.message}, close)

    def _authorised(self) -> bool:
        token = self.server.token
        if not token:
            return True
        sent = self.headers.get(TOKEN_HEADER)
        if sent is None:
            m = _CREDENTIAL.search(self.headers.get("Authorization", ""))
            sent = m.group(1) if m else ""
        return hmac.compare_digest(sent.encode(), token.encode())

    def _discard_body(self, length: int) -> None:
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)

    def do_GET(self) -> None:
        self._reply(
            200, {"service": "trafficlake firehose", "streams": sorted(self.server.api.streams)}
        )

    def do_POST(self) -> None:
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header is not None else -1
        except ValueError:
            length = -1
        if length < 0:
            self._error(
                ApiError("InvalidArgumentException", "Content-Length is required", 411), True
            )
            return
        if not self._authorised():
            if length <= DRAIN_LIMIT_BYTES:
                self._discard_body(length)
            err = ApiError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
            self._error(err, close=length > DRAIN_LIMIT_BYTES)
            return
        if length > MAX_BODY_BYTES:
            err = ApiError(
                "InvalidArgumentException",
                f"request body of {length} bytes exceeds the 4 MiB request limit",
            )
            if length <= DRAIN_LIMIT_BYTES:
                self._discard_body(length)
                self._error(err)
            else:
                self._error(err, close=True)
            return
        body_bytes = self.rfile.read(length)
        target = self.headers.get("X-Amz-Target", "")
        if not target.startswith(TARGET_PREFIX):
            self._error(ApiError("UnknownOperationException", f"unknown target {target!r}"))
            return
        try:
            body = json.loads(body_bytes or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            self._error(ApiError("SerializationException", "request body is not a JSON object"))
            return
        try:
            self._reply(200, self.server.api.call(target[len(TARGET_PREFIX) :], body))
        except ApiError as err:
            self._error(err)
        except Exception:
            log.exception("internal error")
            self._error(ApiError("ServiceUnavailableException", "internal error", 503))


class FirehoseHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server bound to one address, serving a :class:`FirehoseAPI`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: FirehoseAPI, token: str = "") -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.token = token


class FirehoseServer:
    """Delivery streams behind a Firehose-compatible endpoint; ``close()`` flushes them."""

    def __init__(
        self,
        streams: list[DeliveryStream] | StreamRegistry,
        host: str = "127.0.0.1",
        port: int = 4573,
        token: str = "",
    ) -> None:
        registry: StreamRegistry | None = None
        if isinstance(streams, StreamRegistry):
            registry, self.streams = streams, streams.streams
        else:
            self.streams = {s.name: s for s in streams}
        api = FirehoseAPI(self.streams, registry)
        self.httpd = FirehoseHTTPServer((host, port), api, token)
        self._closed = False
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        host: str | None = None,
        port: int | None = None,
        token: str | None = None,
    ) -> FirehoseServer:
        """The configured stream plus streams saved by CreateDeliveryStream."""
        d = settings.delivery
        registry = StreamRegistry(settings).open()
        try:
            return cls(
                registry,
                d.host if host is None else host,
                d.port if port is None else port,
                d.token if token is None else token,
            )
        except BaseException:
            registry.close()
            raise

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> threading.Thread:
        """Serve in a background thread (for embedding and tests)."""
        thread = threading.Thread(target=self.serve_forever, name="firehose-http", daemon=True)
        thread.start()
        return thread

    def shutdown(self) -> None:
        """Stop serving (call from another thread than serve_forever)."""
        self.httpd.shutdown()

    def close(self) -> None:
        """Close the socket, then flush and close every stream."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.httpd.server_close()
        for stream in list(self.streams.values()):
            stream.close()
