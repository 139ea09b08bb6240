"""Runs ONE Lambda invocation of a Python handler (started by trafficlake.functions.runtime).

A standalone script - it runs under the function's own interpreter, which need not have
trafficlake installed. argv: CODE_DIR FILE FUNCTION; the event is read from stdin; the result
(or Lambda's error shape) is written as JSON to the file named by TRAFFICLAKE_LAMBDA_RESULT, so
whatever the handler prints stays in the log.
"""

import importlib.metadata
import importlib.util
import json
import os
import sys
import time
import traceback


class LambdaContext:
    def __init__(self, deadline_ms: int) -> None:
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = env["TRAFFICLAKE_LAMBDA_ARN"]
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.aws_request_id = env["TRAFFICLAKE_LAMBDA_REQUEST_ID"]
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _write(payload: dict) -> None:
    with open(os.environ["TRAFFICLAKE_LAMBDA_RESULT"], "w", encoding="utf-8") as out:
        json.dump(payload, out)


def _error(exc: BaseException, error_type: str = "") -> dict:
    return {
        "error": {
            "errorMessage": str(exc),
            "errorType": error_type or type(exc).__name__,
            "requestId": os.environ.get("TRAFFICLAKE_LAMBDA_REQUEST_ID", ""),
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
    }


def _point_old_botocore_at_endpoint() -> None:
    """botocore reads AWS_ENDPOINT_URL from 1.31.57 on; a function packaged with an older one
    (``boto3==1.14.20`` in its requirements.txt) gets the endpoint as every client's default."""
    url = os.environ.get("AWS_ENDPOINT_URL")
    try:
        version = importlib.metadata.version("botocore")
    except importlib.metadata.PackageNotFoundError:
        return
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    if not url or parts >= (1, 31, 57):
        return
    import botocore.session

    create_client = botocore.session.Session.create_client

    def with_endpoint(self, service_name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if len(args) < 5 and kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = url
        return create_client(self, service_name, *args, **kwargs)

    botocore.session.Session.create_client = with_endpoint  # type: ignore[method-assign]


def main() -> None:
    code_dir, file_name, function = sys.argv[1:4]
    deadline_ms = int(os.environ["TRAFFICLAKE_LAMBDA_DEADLINE_MS"])
    sys.path.insert(0, code_dir)
    try:
        _point_old_botocore_at_endpoint()
    except Exception as exc:  # an unusable packaged botocore fails at the handler's import
        print(f"trafficlake: cannot point botocore at the endpoint: {exc}", file=sys.stderr)
    try:
        path = os.path.join(code_dir, file_name + ".py")
        module_name = file_name.replace("/", ".")
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None or not os.path.isfile(path):
            raise ImportError(f"No module named '{module_name}'")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except Exception as exc:  # Lambda's wording: "Unable to import module 'handler': ..."
        failed = ImportError(f"Unable to import module '{file_name}': {exc}")
        failed.__traceback__ = exc.__traceback__
        _write(_error(failed, "Runtime.ImportModuleError"))
        return
    handler = getattr(module, function, None)
    if not callable(handler):
        msg = f"Handler '{function}' missing on module '{module_name}'"
        _write(_error(AttributeError(msg), "Runtime.HandlerNotFound"))
        return
    try:
        event = json.loads(sys.stdin.read() or "null")
        result = handler(event, LambdaContext(deadline_ms))
    except Exception as exc:
        _write(_error(exc))
        return
    try:
        text = json.dumps({"result": result})
    except (TypeError, ValueError) as exc:
        _write(_error(TypeError(f"Unable to marshal response: {exc}"), "Runtime.MarshalError"))
        return
    with open(os.environ["TRAFFICLAKE_LAMBDA_RESULT"], "w", encoding="utf-8") as out:
        out.write(text)


if __name__ == "__main__":
    main()
