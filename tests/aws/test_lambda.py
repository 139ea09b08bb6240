"""Lambda Invoke through boto3: one process per call, context, errors, timeouts, Node.js."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trafficlake.aws.server import serve_settings
from trafficlake.config import load_settings

APP = Path(__file__).parent / "apps" / "basic"


def fn(handler: str, **kw: Any) -> dict[str, Any]:
    return {"handler": handler, "code_dir": str(APP), "timeout_s": 10, **kw}


@pytest.fixture
def lam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    functions = {
        "Echo": fn("handlers.echo", environment={"STAGE": "dev"}),
        "Fail": fn("handlers.fail"),
        "Hang": fn("handlers.hang", timeout_s=1),
        "Noisy": fn("handlers.noisy"),
        "Unserialisable": fn("handlers.unserialisable"),
        "Crawlers": fn("handlers.crawlers"),
        "Die": fn("handlers.die"),
        "Missing": fn("handlers.nothing_here"),
        "NodeEcho": fn("handler.handle", runtime="nodejs"),
        "NodeCallback": fn("handler.callback", runtime="nodejs"),
        "NodeBroken": fn("handler.broken", runtime="nodejs"),
        "NoNode": fn("handler.handle", runtime="nodejs", node="/nonexistent/node"),
    }
    settings = load_settings(None, overrides={"lambda": {"functions": functions}})
    server = serve_settings(settings, "127.0.0.1", 0)
    server.start()
    import boto3
    import botocore.config

    yield boto3.client(
        "lambda",
        endpoint_url=server.url,
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=botocore.config.Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )
    server.shutdown()
    server.close()


def call(client: Any, name: str, payload: Any = None, **kw: Any) -> tuple[dict[str, Any], Any]:
    args = {"FunctionName": name, **kw}
    if payload is not None:
        args["Payload"] = json.dumps(payload).encode()
    reply = client.invoke(**args)
    body = reply["Payload"].read()
    return reply, (json.loads(body) if body else None)


def test_python_handler_gets_event_context_and_environment(lam: Any) -> None:
    reply, out = call(lam, "Echo", {"year": 2026})
    assert reply["StatusCode"] == 200 and "FunctionError" not in reply
    assert out["event"] == {"year": 2026} and out["function_name"] == "Echo"
    assert out["stage"] == "dev" and out["region"] == "us-east-1"
    assert 0 < out["remaining_ms"] <= 10_000
    _, again = call(lam, "arn:aws:lambda:us-east-1:000000000000:function:Echo", {})
    assert again["request_id"] != out["request_id"]  # one process, one request per call


def test_handler_calls_back_into_the_endpoint(lam: Any) -> None:
    _, out = call(lam, "Crawlers", {})
    assert out == ["raw", "transformed"]


@pytest.mark.slow
def test_failures_have_lambdas_error_shape(lam: Any) -> None:
    reply, out = call(lam, "Fail", {"x": 7})
    assert reply["FunctionError"] == "Unhandled"
    assert out["errorType"] == "ValueError" and out["errorMessage"] == "bad input 7"
    assert out["stackTrace"]
    reply, out = call(lam, "Hang", {})
    assert (
        reply["FunctionError"] == "Unhandled"
        and "timed out after 1.00 seconds" in out["errorMessage"]
    )
    reply, out = call(lam, "Unserialisable", {})
    assert out["errorType"] == "Runtime.MarshalError"
    reply, out = call(lam, "Die", {})
    assert out["errorType"] == "Runtime.ExitError" and "exit status 3" in out["errorMessage"]
    reply, out = call(lam, "Missing", {})
    assert out["errorType"] == "Runtime.HandlerNotFound"


def test_printed_garbage_stays_in_the_log(lam: Any) -> None:
    reply, out = call(lam, "Noisy", {}, LogType="Tail")
    assert out == {"ok": True}
    assert base64.b64decode(reply["LogResult"]).decode().rstrip().endswith("the end")


def test_bad_requests(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException, match="Function not found"):
        lam.invoke(FunctionName="Nope", Payload=b"{}")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="Echo", Payload=b"{not json")
    assert lam.invoke(FunctionName="Echo", InvocationType="DryRun")["StatusCode"] == 204
    assert (
        lam.invoke(FunctionName="Echo", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    )
    with pytest.raises(lam.exceptions.InvalidRuntimeException, match="needs Node"):
        lam.invoke(FunctionName="NoNode", Payload=b"{}")


@pytest.mark.skipif(
    shutil.which("node") is None, reason="Node.js is not installed (CI installs it)"
)
@pytest.mark.slow
def test_nodejs_handlers(lam: Any) -> None:
    _, out = call(lam, "NodeEcho", {"a": 1})
    assert (
        out["got"] == {"a": 1}
        and out["fn"] == "NodeEcho"
        and out["endpoint"].startswith("http://127.0.0.1:")
    )
    assert call(lam, "NodeCallback", {"n": 21})[1] == {"n": 42}
    reply, out = call(lam, "NodeBroken", {})
    assert reply["FunctionError"] == "Unhandled"
    assert out["errorType"] == "TypeError" and out["errorMessage"] == "nope"


def test_the_default_interpreter_is_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trafficlake.functions import RuntimeMissingError, invoke

    monkeypatch.chdir(tmp_path)
    functions = {"Echo": fn("handlers.echo")}
    missing = load_settings(
        None, overrides={"lambda": {"functions": functions, "python": "/nonexistent/python3"}}
    )
    with pytest.raises(RuntimeMissingError, match="/nonexistent/python3"):
        invoke(missing, "Echo", b"{}", "http://127.0.0.1:9")
    import sys

    own = load_settings(
        None, overrides={"lambda": {"functions": functions, "python": sys.executable}}
    )
    result = invoke(own, "Echo", b'{"a": 1}', "http://127.0.0.1:9")
    assert result.function_error is None and json.loads(result.payload)["event"] == {"a": 1}


def test_handlers_carry_the_endpoints_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        None, overrides={"lambda": {"functions": {"Crawlers": fn("handlers.crawlers")}}}
    )
    server = serve_settings(settings, "127.0.0.1", 0, token="s3cret")
    server.start()
    try:
        client = boto3.client(
            "lambda",
            endpoint_url=server.url,
            region_name="eu-west-1",
            aws_access_key_id="s3cret",
            aws_secret_access_key="x",
        )
        reply = client.invoke(FunctionName="Crawlers", Payload=b"{}")
        assert "FunctionError" not in reply, reply["Payload"].read()
        assert json.loads(reply["Payload"].read()) == ["raw", "transformed"]
        denied = boto3.client(
            "lambda",
            endpoint_url=server.url,
            region_name="eu-west-1",
            aws_access_key_id="wrong",
            aws_secret_access_key="x",
        )
        with pytest.raises(Exception, match="UnrecognizedClientException"):
            denied.invoke(FunctionName="Crawlers", Payload=b"{}")
    finally:
        server.shutdown()
        server.close()
