"""The endpoint's protocol layer on loopback: routing, AWS error shapes, the token, the bounds."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest

from trafficlake.aws.server import AwsServer, serve_settings
from trafficlake.config import Settings
from trafficlake.errors import ConfigError


@pytest.fixture
def endpoint(settings: Settings) -> Iterator[Any]:
    started: list[AwsServer] = []

    def start(**kw: Any) -> AwsServer:
        server = serve_settings(settings, "127.0.0.1", 0, **kw)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.close()


def raw(server: AwsServer, method: str, path: str, body: bytes, **headers: str) -> Any:
    host, port = server.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, (json.loads(data) if data else None), resp


def test_routing_and_error_shapes(endpoint: Any) -> None:
    server = endpoint()
    status, body, resp = raw(server, "POST", "/", b"{}", **{"X-Amz-Target": "AWSNope.Do"})
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert resp.getheader("x-amzn-RequestId")
    target = {"X-Amz-Target": "Firehose_20150804.Frobnicate"}
    status, body, _ = raw(server, "POST", "/", b"{}", **target)
    assert body["__type"] == "UnknownOperationException" and "Frobnicate" in body["message"]
    target = {"X-Amz-Target": "Firehose_20150804.ListDeliveryStreams"}
    for bad in (b"{", b"[1]", b"\xff\xfe"):
        status, body, _ = raw(server, "POST", "/", bad, **target)
        assert (status, body["__type"]) == (400, "SerializationException")
    status, body, _ = raw(server, "POST", "/", b"{}", **target)
    assert (status, body["DeliveryStreamNames"]) == (200, ["miv"])
    status, body, _ = raw(server, "GET", "/", b"")
    assert status == 200 and "firehose" in body["services"]
    status, body, _ = raw(server, "PUT", "/elsewhere", b"")
    assert (status, body["__type"]) == (404, "UnknownOperationException")


def test_token_is_required_for_every_request(endpoint: Any) -> None:
    server = endpoint(token="s3cret")
    assert raw(server, "GET", "/", b"")[0] == 400
    assert raw(server, "GET", "/", b"", **{"X-Trafficlake-Token": "s3cret"})[0] == 200

    def client(key: str) -> Any:
        return boto3.client(
            "firehose",
            endpoint_url=server.url,
            region_name="eu-west-1",
            aws_access_key_id=key,
            aws_secret_access_key="x",
        )

    with pytest.raises(botocore.exceptions.ClientError, match="UnrecognizedClientException"):
        client("wrong").list_delivery_streams()
    with pytest.raises(botocore.exceptions.ClientError, match="UnrecognizedClientException"):
        client("wrong").create_delivery_stream(DeliveryStreamName="x")
    assert client("s3cret").list_delivery_streams()["DeliveryStreamNames"] == ["miv"]


def test_non_loopback_bind_needs_a_token_or_insecure(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="without a token"):
        serve_settings(settings, "0.0.0.0", 0)
    server = serve_settings(settings, "0.0.0.0", 0, insecure=True)
    server.close()
    server = serve_settings(settings, "0.0.0.0", 0, token="t")
    assert server.url.startswith("http://127.0.0.1:")
    server.close()


def test_malformed_http_gets_one_aws_error_and_the_server_stays_up(endpoint: Any) -> None:
    server = endpoint()
    host, port = server.address

    def send(data: bytes) -> bytes:
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(data)
            out = b""
            while chunk := s.recv(65536):
                out += chunk
            return out

    too_big = b"POST / HTTP/1.1\r\nX-Pad: " + b"a" * 70_000 + b"\r\n\r\n"
    assert b" 431 " in send(too_big).split(b"\r\n")[0]
    many = b"POST / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n"
    assert b"RequestHeaderFieldsTooLarge" in send(many)
    two_lengths = b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
    assert b"conflicting" in send(two_lengths)
    no_length = b"POST / HTTP/1.1\r\nX-Amz-Target: Firehose_20150804.ListDeliveryStreams\r\n\r\n"
    assert b" 411 " in send(no_length).split(b"\r\n")[0]
    assert b"SerializationException" in send(b"GARBAGE\r\n\r\n")
    huge = b"POST / HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n"
    assert b"request limit" in send(huge)
    target = {"X-Amz-Target": "Firehose_20150804.ListDeliveryStreams"}
    assert raw(server, "POST", "/", b"{}", **target)[0] == 200


def test_slow_connections_neither_block_a_call_nor_the_shutdown(endpoint: Any) -> None:
    server = endpoint()
    host, port = server.address
    slow = []
    for i in range(300):  # half-sent requests that never finish
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n" if i % 2 else b"PO")
        slow.append(s)
    target = {"X-Amz-Target": "Firehose_20150804.ListDeliveryStreams"}
    assert raw(server, "POST", "/", b"{}", **target)[0] == 200
    done = threading.Event()
    threading.Thread(target=lambda: (server.shutdown(), done.set()), daemon=True).start()
    assert done.wait(20)
    for s in slow:
        s.close()
    server.close()


def test_connection_cap_answers_throttling(settings: Settings) -> None:
    capped = settings.replace(aws=type(settings.aws)(max_connections=2))
    server = serve_settings(capped, "127.0.0.1", 0)
    server.start()
    try:
        host, port = server.address
        held = [socket.create_connection((host, port), timeout=10) for _ in range(2)]
        time.sleep(0.2)
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\n\r\n")
            assert b"ThrottlingException" in s.recv(65536)
        for s in held:
            s.close()
    finally:
        server.shutdown()
        server.close()


def test_wrongly_typed_fields_get_aws_errors_never_a_500(settings: Settings) -> None:
    server = serve_settings(settings, "127.0.0.1", 0)
    prefixes = {"glue": "AWSGlue.", "states": "AWSStepFunctions.", "events": "AWSEvents."}
    keys = ["Name", "DatabaseName", "TableName", "TableInput", "DatabaseInput", "PartitionValues",
            "PartitionInputList", "PartitionsToDelete", "Expression", "Targets", "SchemaChangePolicy",
            "RecrawlPolicy", "CrawlerNameList", "JobName", "RunId", "Arguments", "Command",
            "stateMachineArn", "executionArn", "name", "definition", "input", "maxResults", "Rule",
            "Ids", "Entries", "EventPattern", "ScheduleExpression", "State"]  # fmt: skip
    try:
        for service, prefix in prefixes.items():
            for op in server.endpoint.by_service[service]:
                if op.startswith(("Start", "Stop")):
                    continue  # they would start real work in the background
                for key in keys:
                    for value in (5, "x", [], {}, [5], [{}], {"a": 5}, True):
                        body = json.dumps({"Name": "raw", "DatabaseName": "traffic", key: value})
                        reply = server.dispatch(
                            "POST", "/", {"x-amz-target": prefix + op}, body.encode()
                        )
                        assert reply.status < 500, (op, key, value, reply.body)
                        assert "__type" in json.loads(reply.body) or reply.status == 200
    finally:
        server.close()


@pytest.mark.parametrize(
    "body",
    [
        b'{"Records": [{"Data": "eyJhIjoxfQ=="}], "DeliveryStreamName": "miv"}',
        b'{"a": 1, "a": 2, "b": [true, null, -0, 18446744073709551615]}',
        b'{"n": 1267650600228229401496703205376, "m": [-1267650600228229401496703205376]}',
        b'{"f": 1.5, "g": 1e400, "h": NaN, "i": -Infinity}',
        b'\xef\xbb\xbf{"bom": 1}',
        '{"utf16": 1}'.encode("utf-16"),
        b'{"lone": "\\ud800"}',
    ],
)
def test_request_bodies_parse_as_json_loads_reads_them(body: bytes) -> None:
    """orjson parses request bodies; what it refuses or could read differently (integers
    beyond 64 bits, which it reads as floats) is read by ``json``: the same values, exactly."""
    from trafficlake.aws.server import parse_json

    assert repr(parse_json(body)) == repr(json.loads(body))


def test_a_body_that_nests_too_deeply_is_a_serialization_error(endpoint: Any) -> None:
    server = endpoint()
    target = {"X-Amz-Target": "Firehose_20150804.ListDeliveryStreams"}
    for bad in (b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", b"[" * 100_000):
        status, body, _ = raw(server, "POST", "/", bad, **target)
        assert (status, body["__type"]) == (400, "SerializationException")


def _read_replies(s: socket.socket, n: int) -> list[tuple[int, dict[str, Any]]]:
    """``n`` HTTP replies read off ``s`` in order: (status, JSON body)."""
    data, out = b"", []
    while len(out) < n:
        chunk = s.recv(65536)
        assert chunk, f"connection closed after {len(out)} of {n} replies"
        data += chunk
        while b"\r\n\r\n" in data:
            head, rest = data.split(b"\r\n\r\n", 1)
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(rest) < length:
                break
            out.append((int(head.split(b" ")[1]), json.loads(rest[:length])))
            data = rest[length:]
    return out


def _request(body: bytes, target: str = "Firehose_20150804.ListDeliveryStreams") -> bytes:
    return b"POST / HTTP/1.1\r\nX-Amz-Target: %s\r\nContent-Length: %d\r\n\r\n%s" % (
        target.encode(),
        len(body),
        body,
    )


def test_pipelined_and_trickled_requests_are_answered_in_order(endpoint: Any) -> None:
    """Requests sent back to back in one write, and one sent a few bytes at a time (its
    body split across the head's packet and later ones), each get their reply, in order."""
    server = endpoint()
    with socket.create_connection(server.address, timeout=10) as s:
        s.sendall(_request(b"{}") + _request(b'{"Limit": 1}') + b"GET / HTTP/1.1\r\n\r\n")
        replies = _read_replies(s, 3)
        assert [status for status, _ in replies] == [200, 200, 200]
        assert replies[0][1]["DeliveryStreamNames"] == ["miv"]
        assert "firehose" in replies[2][1]["services"]
        trickled = _request(b'{"ExclusiveStartDeliveryStreamName": "a"}')
        for i in range(0, len(trickled), 7):
            s.sendall(trickled[i : i + 7])
            time.sleep(0.002)
        assert _read_replies(s, 1) == [(200, replies[0][1])]
        long_head = _request(b"{}").replace(b"\r\n\r\n", b"\r\nX-Pad: %s\r\n\r\n" % (b"p" * 40_000))
        s.sendall(long_head)  # within the 64 KB header limit: several reads of the head
        assert _read_replies(s, 1) == [(200, replies[0][1])]


def test_a_refused_request_with_a_body_leaves_the_connection_usable(endpoint: Any) -> None:
    server = endpoint(token="s3cret")
    with socket.create_connection(server.address, timeout=10) as s:
        good = _request(b"{}").replace(b"\r\n\r\n", b"\r\nX-Trafficlake-Token: s3cret\r\n\r\n", 1)
        s.sendall(_request(b'{"x": "' + b"y" * 200_000 + b'"}') + good)
        (status, body), (status2, body2) = _read_replies(s, 2)
        assert (status, body["__type"]) == (400, "UnrecognizedClientException")
        assert (status2, body2["DeliveryStreamNames"]) == (200, ["miv"])


def test_an_idle_connection_is_closed_after_the_idle_timeout(settings: Settings) -> None:
    quick = settings.replace(aws=type(settings.aws)(idle_timeout_s=0.3))
    server = serve_settings(quick, "127.0.0.1", 0)
    server.start()
    try:
        with socket.create_connection(server.address, timeout=10) as s:
            s.sendall(_request(b"{}"))
            assert _read_replies(s, 1)[0][0] == 200
            t0 = time.monotonic()
            s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n{")  # never finished
            assert s.recv(65536) == b""  # closed by the server, no reply
            assert 0.2 < time.monotonic() - t0 < 5
    finally:
        server.shutdown()
        server.close()


def test_many_pipelined_refusals_are_answered_one_by_one(endpoint: Any) -> None:
    """3,000 small unauthorised requests in one write (a 64 KB head buffer's worth, and
    more): one refusal each, in order, then an authorised request on the same connection."""
    server = endpoint(token="s3cret")
    with socket.create_connection(server.address, timeout=20) as s:
        good = _request(b"{}").replace(b"\r\n\r\n", b"\r\nX-Trafficlake-Token: s3cret\r\n\r\n", 1)
        s.sendall(_request(b"{}") * 3000 + good)
        replies = _read_replies(s, 3001)
        assert {body["__type"] for _, body in replies[:3000]} == {"UnrecognizedClientException"}
        assert replies[3000] == (
            200,
            {"DeliveryStreamNames": ["miv"], "HasMoreDeliveryStreams": False},
        )
