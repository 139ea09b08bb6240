"""One Lambda invocation = one process, like Lambda's own runtimes.

The handler runs under its bootstrap (``bootstrap.py`` for python, ``bootstrap.js`` for nodejs):
``handler(event, context)`` with a Lambda-like context, in an environment holding only the
function's variables, Lambda's own (``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_REGION``, ...),
``AWS_ENDPOINT_URL`` pointing at the trafficlake endpoint and dummy credentials (the endpoint's
token, when one is set, as the access key id) - so ``boto3.client("glue")`` or
``new GlueClient({})`` at the handler module's top level reaches trafficlake. The timeout kills
the whole process group. Whatever the handler prints goes to a bounded log (its tail is
returned for ``LogType: Tail``); the result travels in a file of its own, so printed garbage
can never corrupt it. A failure is Lambda's error shape (``errorType``, ``errorMessage``,
``stackTrace``) with ``FunctionError: Unhandled``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from trafficlake.config import LambdaFunction, Settings
from trafficlake.errors import TrafficlakeError
from trafficlake.functions import deps

HERE = Path(__file__).parent
LOG_TAIL_BYTES = 4096
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's synchronous invocation payload limit (request and response)."""
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}|#\{[^}]*\}")
_ARN = re.compile(
    r"^(?:arn:aws[\w-]*:lambda:[\w-]*:\d*:function:|\d{12}:function:)?([^:]+)(?::.*)?$"
)


class FunctionError(TrafficlakeError):
    """Base of the local Lambda functions' errors."""


class FunctionNotFoundError(FunctionError):
    """No declared function of that name (Lambda's ResourceNotFoundException)."""


class RuntimeMissingError(FunctionError):
    """The function's runtime (Node.js, a configured interpreter) is not installed."""


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    """The handler's result as JSON, or Lambda's error object."""
    function_error: str | None
    """``Unhandled`` when the handler failed (raised, timed out, crashed), else None."""
    log_tail: str
    duration_s: float


def function_arn(settings: Settings, name: str) -> str:
    a = settings.aws
    return f"arn:aws:lambda:{a.region}:{a.account_id}:function:{name}"


def resolve_function(settings: Settings, name_or_arn: str) -> tuple[str, LambdaFunction]:
    """The declared function a name, ARN or partial ARN means. A name still holding
    Serverless/CloudFormation placeholders (``${self:service}-${opt:stage}-RunDataCrawler``,
    ``#{AWS::Region}``) means the declared function whose name ends it."""
    functions = settings.lambda_.functions
    bare = _PLACEHOLDER.sub("\x00", name_or_arn.strip())  # placeholders may hold ':'
    m = _ARN.match(bare)
    name = m.group(1) if m else bare
    if name in functions:
        return name, functions[name]
    if "\x00" in name:
        fits = [
            f
            for f in functions
            if name.endswith(f) and (len(name) == len(f) or name[-len(f) - 1] in "\x00-_")
        ]
        if fits:
            best = max(fits, key=len)
            return best, functions[best]
    name = name.replace("\x00", "{...}")
    declared = ", ".join(sorted(functions)) or "none declared in [lambda.functions]"
    raise FunctionNotFoundError(
        f"Function not found: {function_arn(settings, name)} (declared: {declared})"
    )


def _command(settings: Settings, name: str, fn: LambdaFunction) -> list[str]:
    file_name, _, function = fn.handler.rpartition(".")
    code_dir = str(settings.resolve_path(fn.code_dir or "."))
    if fn.runtime == "nodejs":
        node = shutil.which(fn.node or settings.lambda_.node or "node")
        if node is None:
            raise RuntimeMissingError(
                f"function {name} needs Node.js, which is not installed: install it "
                "(apt-get install nodejs) or set lambda.functions.{name}.node to its path"
            )
        return [node, str(HERE / "bootstrap.js"), code_dir, file_name, function]
    python = fn.python or settings.lambda_.python or sys.executable
    if python != sys.executable and shutil.which(python) is None:
        raise RuntimeMissingError(f"function {name}: interpreter {python} not found")
    return [python, str(HERE / "bootstrap.py"), code_dir, file_name, function]


def _environment(
    settings: Settings, name: str, fn: LambdaFunction, endpoint_url: str, access_key: str
) -> dict[str, str]:
    a = settings.aws
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "SYSTEMROOT") if k in os.environ}
    return {
        **keep,
        "TZ": ":UTC",
        "AWS_REGION": a.region,
        "AWS_DEFAULT_REGION": a.region,
        "AWS_ENDPOINT_URL": endpoint_url,
        # boto3 sends StartSyncExecution to `sync-HOST`, which no loopback endpoint resolves
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        # S3 is not served here: a lake on S3 (MinIO, moto) is where the handlers' S3 calls go
        **({"AWS_ENDPOINT_URL_S3": settings.s3.endpoint_url} if settings.s3.endpoint_url else {}),
        "AWS_ACCESS_KEY_ID": access_key or "trafficlake",
        "AWS_SECRET_ACCESS_KEY": "trafficlake",
        "AWS_SESSION_TOKEN": "trafficlake",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(fn.timeout_s)),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime}",
        "LAMBDA_TASK_ROOT": str(settings.resolve_path(fn.code_dir or ".")),
        **fn.environment,
    }


def _error(request_id: str, error_type: str, message: str) -> bytes:
    body = {"errorType": error_type, "errorMessage": message, "requestId": request_id}
    return json.dumps(body).encode()


def invoke(
    settings: Settings,
    name_or_arn: str,
    payload: bytes,
    endpoint_url: str,
    *,
    access_key: str = "",
) -> Invocation:
    """Run the function once with ``payload`` (JSON bytes) and wait for it. Raises
    FunctionNotFoundError, RuntimeMissingError; everything the handler does is in the result."""
    name, fn = resolve_function(settings, name_or_arn)
    command = _command(settings, name, fn)
    request_id = str(uuid.uuid4())
    env = _environment(settings, name, fn, endpoint_url, access_key)
    started = time.time()
    try:  # the deployment package's dependencies, first on the path as in /var/task
        if fn.runtime == "nodejs":
            if found := deps.node_path(settings, name, fn):
                env["NODE_PATH"] = found
        elif found := deps.python_path(settings, name, fn, command[0]):
            env["PYTHONPATH"] = found
    except deps.DependencyError as exc:
        error = _error(request_id, "Runtime.DependencyInstallError", str(exc))
        return Invocation(request_id, error, "Unhandled", "", time.time() - started)
    with tempfile.TemporaryDirectory(prefix="trafficlake-lambda-") as tmp:
        result_path = Path(tmp) / "result.json"
        env["TRAFFICLAKE_LAMBDA_RESULT"] = str(result_path)
        env["TRAFFICLAKE_LAMBDA_REQUEST_ID"] = request_id
        env["TRAFFICLAKE_LAMBDA_ARN"] = function_arn(settings, name)
        env["TRAFFICLAKE_LAMBDA_DEADLINE_MS"] = str(int((started + fn.timeout_s) * 1000))
        with open(Path(tmp) / "log", "w+b") as log:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=env["LAMBDA_TASK_ROOT"],
                start_new_session=True,
            )
            timed_out = False
            try:
                proc.communicate(payload, timeout=fn.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:  # the handler and anything it started (a PID stays reserved by its group)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            size = log.seek(0, os.SEEK_END)
            log.seek(max(0, size - LOG_TAIL_BYTES))
            tail = log.read().decode("utf-8", "replace")
        duration = time.time() - started
        if timed_out:
            message = (
                f"RequestId: {request_id} Error: Task timed out after {fn.timeout_s:.2f} seconds"
            )
            return Invocation(
                request_id,
                _error(request_id, "Sandbox.Timedout", message),
                "Unhandled",
                tail,
                duration,
            )
        try:
            out = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {proc.returncode}"
            return Invocation(
                request_id,
                _error(request_id, "Runtime.ExitError", message),
                "Unhandled",
                tail,
                duration,
            )
    if "error" in out:
        return Invocation(
            request_id, json.dumps(out["error"]).encode(), "Unhandled", tail, duration
        )
    data = json.dumps(out.get("result")).encode()
    if len(data) > MAX_PAYLOAD_BYTES:
        message = f"Response payload size ({len(data)} bytes) exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."
        return Invocation(
            request_id,
            _error(request_id, "Function.ResponseSizeTooLarge", message),
            "Unhandled",
            tail,
            duration,
        )
    return Invocation(request_id, data, None, tail, duration)
