"""The contract between ``aws/server.py`` and the per-service adapters.

A service adapter module defines ``ADAPTER = ServiceAdapter(...)``: the ``X-Amz-Target`` prefix it
answers (``AWSGlue.``, ``AWSStepFunctions.``, ``AWSEvents.``, ``AmazonAthena.``,
``Firehose_20150804.``) and a factory that, given the :class:`AwsContext`, returns its
operations by AWS name (``"GetCrawler"``). An operation takes the decoded JSON request body and
returns the JSON response body; it reports failure by raising :class:`AwsError` with AWS's error
code for that operation (for example ``EntityNotFoundException``) and the HTTP status AWS sends.
Adapters translate; what an operation *does* lives in the library module of its stage.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trafficlake.config import Settings
from trafficlake.errors import TrafficlakeError

Operation = Callable[[dict[str, Any]], dict[str, Any]]

ErrorMap = Sequence[tuple[type[Exception] | tuple[type[Exception], ...], str, int]]
"""Library error types -> (AWS error code, HTTP status), first match wins."""


class AwsError(TrafficlakeError):
    """An error as AWS returns it: ``{"__type": code, "message": message}`` with ``status``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class EncodedReply(dict[str, Any]):
    """An operation's reply (a dict, like every reply) that also carries its JSON encoding,
    built by the operation that knows its shape more cheaply than ``json.dumps`` would; the
    server sends ``encoded`` as it is, in-process callers read the dict."""

    def __init__(self, reply: dict[str, Any], encoded: bytes) -> None:
        super().__init__(reply)
        self.encoded = encoded


@dataclass(frozen=True)
class AwsContext:
    """What every adapter may need: settings, and the identity the endpoint reports."""

    settings: Settings
    region: str
    account_id: str
    endpoint_url: str
    """The endpoint's own URL (handed to Lambda handlers as ``AWS_ENDPOINT_URL``)."""
    token: str = ""
    """The endpoint's shared secret, if any (Lambda handlers send it as their access key id)."""
    services: Callable[[], Any] | None = None
    """The endpoint's own services for in-process calls (state machine tasks): gives an
    :class:`~trafficlake.workflow.aws_tasks.AwsServices`. Set by the endpoint."""

    def arn(self, service: str, resource: str) -> str:
        """``arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE`` in this endpoint's region and account."""
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"


@dataclass(frozen=True)
class ServiceAdapter:
    target_prefix: str
    """The ``X-Amz-Target`` prefix, dot included (``"AWSGlue."``)."""
    make_operations: Callable[[AwsContext], Mapping[str, Operation]]


def guarded(op: Operation, errors: ErrorMap) -> Operation:
    """``op`` with the library errors named in ``errors`` raised as :class:`AwsError` (the one
    place where an adapter's library exceptions become AWS's error codes)."""

    @functools.wraps(op)
    def run(body: dict[str, Any]) -> dict[str, Any]:
        try:
            return op(body)
        except AwsError:
            raise
        except Exception as exc:
            for types, code, status in errors:
                if isinstance(exc, types):
                    raise AwsError(code, str(exc), status) from None
            raise

    return run


def operation_table(adapter: object, errors: ErrorMap) -> dict[str, Operation]:
    """Every method of ``adapter`` named as an AWS operation (``GetCrawler``: a capital first
    letter), each :func:`guarded` by ``errors``."""
    return {
        name: guarded(getattr(adapter, name), errors)
        for name in dir(adapter)
        if name[:1].isupper() and callable(getattr(adapter, name))
    }
