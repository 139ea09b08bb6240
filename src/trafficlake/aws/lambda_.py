"""Lambda (REST ``POST /2015-03-31/functions/NAME/invocations``): Invoke runs a function
declared in ``[lambda.functions]`` through :func:`trafficlake.functions.invoke`.

``RequestResponse`` waits and returns the handler's result (or Lambda's error object with
``FunctionError: Unhandled``); ``Event`` answers 202 at once and runs it in the background;
``DryRun`` checks the function exists (204). ``LogType: Tail`` returns the last 4 KB of what
the handler printed, base64-encoded, as Lambda does.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from typing import Any

from trafficlake.aws.service import AwsContext, AwsError, Operation, ServiceAdapter
from trafficlake.functions import FunctionNotFoundError, RuntimeMissingError, invoke
from trafficlake.functions.runtime import MAX_PAYLOAD_BYTES, resolve_function

log = logging.getLogger(__name__)


def make_operations(context: AwsContext) -> dict[str, Operation]:
    settings = context.settings

    def run(name: str, payload: bytes) -> Any:
        return invoke(settings, name, payload, context.endpoint_url, access_key=context.token)

    def invoke_op(body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("FunctionName")
        if not isinstance(name, str) or not name:
            raise AwsError("InvalidParameterValueException", "FunctionName is required")
        payload = body.get("Payload") or b"{}"
        if isinstance(payload, str):
            payload = payload.encode()
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise AwsError(
                "RequestTooLargeException",
                f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the Invoke operation",
                413,
            )
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise AwsError(
                "InvalidRequestContentException", "Could not parse request body into json"
            ) from None
        kind = body.get("InvocationType", "RequestResponse")
        try:
            if kind == "DryRun":
                resolve_function(settings, name)
                return {"StatusCode": 204, "Payload": b""}
            if kind == "Event":
                resolve_function(settings, name)
                threading.Thread(target=_background, args=(run, name, payload), daemon=True).start()
                return {"StatusCode": 202, "Payload": b""}
            if kind != "RequestResponse":
                raise AwsError("InvalidParameterValueException", f"InvocationType {kind!r}")
            result = run(name, payload)
        except FunctionNotFoundError as exc:
            raise AwsError("ResourceNotFoundException", str(exc), 404) from None
        except RuntimeMissingError as exc:
            raise AwsError("InvalidRuntimeException", str(exc), 502) from None
        out: dict[str, Any] = {
            "StatusCode": 200,
            "Payload": result.payload,
            "ExecutedVersion": "$LATEST",
        }
        if result.function_error:
            out["FunctionError"] = result.function_error
        if body.get("LogType") == "Tail":
            out["LogResult"] = base64.b64encode(result.log_tail.encode()).decode()
        return out

    return {"Invoke": invoke_op}


def _background(run: Any, name: str, payload: bytes) -> None:
    try:
        result = run(name, payload)
        if result.function_error:
            log.warning("async invocation of %s failed: %s", name, result.payload[:500])
    except Exception:
        log.exception("async invocation of %s failed", name)


ADAPTER = ServiceAdapter("AWSLambda.", make_operations)
