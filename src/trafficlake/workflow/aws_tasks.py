"""Task resources that name AWS services, run against the trafficlake endpoint's services.

- ``arn:aws:lambda:REGION:ACCOUNT:function:NAME`` (placeholders allowed, see
  :func:`trafficlake.functions.resolve_function`): the input is the event, the result the
  handler's return value; a handler error fails the task with its ``errorType``.
- ``arn:aws:states:::lambda:invoke`` (``FunctionName``, ``Payload``): the result is Lambda's
  response (``Payload``, ``StatusCode``, ``ExecutedVersion``).
- ``arn:aws:states:::aws-sdk:SERVICE:action``: the endpoint's operation ``Action`` of that
  service with the Parameters as request; errors are ``Service.ErrorCode``
  (``Glue.EntityNotFoundException``).
- the optimised ``glue:startJobRun``, ``athena:startQueryExecution`` and their ``.sync`` forms,
  which poll until the run or query ends and fail the task when it did not succeed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from trafficlake.workflow.errors import StatesError, UnknownResourceError

if TYPE_CHECKING:
    from trafficlake.config import Settings
    from trafficlake.functions import Invocation
    from trafficlake.workflow.tasks import Task, TaskContext

POLL_SECONDS = 1.0
_PART = r"(?:[^:{}]|\{[^}]*\})*"
"""One ARN field, which may hold ``#{AWS::Region}``-style placeholders (with colons)."""
LAMBDA_ARN = re.compile(rf"^arn:aws[\w-]*:lambda:{_PART}:{_PART}:function:(.+)$")
SDK_ARN = re.compile(r"^arn:aws[\w-]*:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$")
SDK_SERVICES = {"sfn": "states", "eventbridge": "events"}
"""aws-sdk integration service names -> the endpoint's service names (others are the same)."""
ERROR_PREFIX = {
    "glue": "Glue",
    "athena": "Athena",
    "firehose": "Firehose",
    "lambda": "Lambda",
    "states": "Sfn",
    "events": "EventBridge",
}


class AwsServices(Protocol):
    """What AWS task resources call: the endpoint's operations and Lambda functions."""

    settings: Settings

    def call(self, service: str, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """Raises :class:`trafficlake.aws.service.AwsError`."""

    def invoke(self, function: str, payload: bytes) -> Invocation: ...


def is_aws_resource(resource: str) -> bool:
    return resource.startswith("arn:aws")


def check_resource(resource: str, settings: Settings | None) -> str | None:
    """Why ``resource`` cannot run here (None: it can), without running anything."""
    from trafficlake.functions import FunctionNotFoundError, resolve_function

    m = LAMBDA_ARN.match(resource)
    if m:
        if settings is None:
            return "Lambda tasks need settings with [lambda.functions]"
        try:
            resolve_function(settings, m.group(1))
        except FunctionNotFoundError as exc:
            return str(exc)
        return None
    try:
        _builder(resource)
    except UnknownResourceError as exc:
        return str(exc)
    return None


def resolve(resource: str, services: Any) -> Task:
    """The task for an AWS resource; ``services()`` gives the :class:`AwsServices`."""
    builder = _builder(resource)
    return lambda params, ctx: builder(params, ctx, services())


def _builder(resource: str) -> Any:
    m = LAMBDA_ARN.match(resource)
    if m:
        name = m.group(1)
        return lambda params, ctx, aws: _lambda(aws, name, params)
    base, sync = (
        (resource[: -len(".sync")], True) if resource.endswith(".sync") else (resource, False)
    )
    if base == "arn:aws:states:::lambda:invoke" and not sync:
        return lambda params, ctx, aws: _lambda_invoke(aws, params)
    if base == "arn:aws:states:::glue:startJobRun":
        return lambda params, ctx, aws: _glue_job(aws, params, ctx, sync)
    if base == "arn:aws:states:::athena:startQueryExecution":
        return lambda params, ctx, aws: _athena_query(aws, params, ctx, sync)
    m = SDK_ARN.match(resource)
    if m:
        service = SDK_SERVICES.get(m.group(1), m.group(1))
        if service not in ERROR_PREFIX:
            raise UnknownResourceError(
                f"aws-sdk service {m.group(1)!r} is not served by trafficlake"
            )
        operation = m.group(2)[:1].upper() + m.group(2)[1:]
        return lambda params, ctx, aws: _sdk(aws, service, operation, params)
    raise UnknownResourceError(
        f"unknown task resource {resource!r}: trafficlake runs Lambda function ARNs, "
        "arn:aws:states:::lambda:invoke, glue:startJobRun(.sync), "
        "athena:startQueryExecution(.sync) and arn:aws:states:::aws-sdk:SERVICE:action"
    )


def _sdk(aws: AwsServices, service: str, operation: str, params: Any) -> dict[str, Any]:
    from trafficlake.aws.service import AwsError

    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise StatesError("States.Runtime", f"{service}:{operation} needs an object as Parameters")
    try:
        return aws.call(service, operation, params)
    except AwsError as exc:
        raise StatesError(f"{ERROR_PREFIX[service]}.{exc.code}", exc.message) from None


def _lambda(aws: AwsServices, name: str, event: Any) -> Any:
    result = aws.invoke(name, json.dumps(event).encode())
    out = json.loads(result.payload) if result.payload else None
    if result.function_error:
        error = (
            out.get("errorType", "Lambda.Unknown") if isinstance(out, dict) else "Lambda.Unknown"
        )
        raise StatesError(str(error), json.dumps(out))
    return out


def _lambda_invoke(aws: AwsServices, params: Any) -> dict[str, Any]:
    if not isinstance(params, dict) or not isinstance(params.get("FunctionName"), str):
        raise StatesError("States.Runtime", "lambda:invoke needs Parameters with FunctionName")
    payload = params.get("Payload", {})
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": _lambda(aws, params["FunctionName"], payload),
        "StatusCode": 200,
    }


def _glue_job(aws: AwsServices, params: Any, ctx: TaskContext, sync: bool) -> dict[str, Any]:
    started = _sdk(aws, "glue", "StartJobRun", params)
    if not sync:
        return started
    ask = {"JobName": params["JobName"], "RunId": started["JobRunId"]}
    return _until_done(
        lambda: _sdk(aws, "glue", "GetJobRun", ask),
        lambda got: got["JobRun"]["JobRunState"],
        ("STARTING", "RUNNING", "STOPPING", "WAITING"),
        ctx,
        result=lambda got: dict(got["JobRun"]),
    )


def _athena_query(aws: AwsServices, params: Any, ctx: TaskContext, sync: bool) -> dict[str, Any]:
    started = _sdk(aws, "athena", "StartQueryExecution", params)
    if not sync:
        return started
    ask = {"QueryExecutionId": started["QueryExecutionId"]}
    return _until_done(
        lambda: _sdk(aws, "athena", "GetQueryExecution", ask),
        lambda got: got["QueryExecution"]["Status"]["State"],
        ("QUEUED", "RUNNING"),
        ctx,
        result=lambda got: got,
    )


def _until_done(
    fetch: Callable[[], dict[str, Any]],
    state_of: Callable[[dict[str, Any]], str],
    active: tuple[str, ...],
    ctx: TaskContext,
    *,
    result: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """A ``.sync`` task's wait: ``fetch`` every POLL_SECONDS while its state is ``active``; the
    task's output (``result`` of the last answer) if it SUCCEEDED, else States.TaskFailed with
    that output as its cause."""
    while True:
        got = fetch()
        if state_of(got) not in active:
            break
        ctx.sleep(POLL_SECONDS)
    if state_of(got) != "SUCCEEDED":
        raise StatesError("States.TaskFailed", json.dumps(result(got), default=str))
    return result(got)
