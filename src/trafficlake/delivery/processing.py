"""``ProcessingConfiguration`` with a Lambda processor: records pass through a local Lambda.

Firehose hands the function ``{"invocationId", "deliveryStreamArn", "region", "records":
[{"recordId", "approximateArrivalTimestamp", "data": base64}]}`` and expects ``{"records":
[{"recordId", "result": "Ok" | "Dropped" | "ProcessingFailed", "data": base64}]}`` back. ``Ok``
records go on (to format conversion, if enabled), ``Dropped`` ones are gone as the function asked,
``ProcessingFailed`` ones - and every record of an invocation that fails ``NumberOfRetries`` + 1
times or answers without them - are written to the error prefix under ``processing-failed``
with the function's ARN. The function runs through :func:`trafficlake.functions.invoke` (one
process per invocation, declared in ``[lambda.functions]``), once per put call; the put waits.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from trafficlake.config import Settings
from trafficlake.delivery.destination import InvalidDestinationError
from trafficlake.delivery.records import RecordError
from trafficlake.errors import TrafficlakeError

PROCESSING_FAILED = "processing-failed"
_PARAMETERS = {
    "LambdaArn",
    "NumberOfRetries",
    "RoleArn",
    "BufferSizeInMBs",
    "BufferIntervalInSeconds",
}


@dataclass(frozen=True)
class LambdaProcessor:
    """A validated Lambda processor: the function and how often a failed call is retried."""

    function: str
    retries: int


def _int_parameter(value: str, name: str, lo: int, hi: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidDestinationError(f"ProcessingConfiguration: {name} must be a number") from None
    if not lo <= number <= hi:
        raise InvalidDestinationError(f"ProcessingConfiguration: {name} must be {lo}..{hi}")
    return number


def parse_processing(config: Any, *, dynamic: bool = False) -> LambdaProcessor | None:
    """Validate ``ProcessingConfiguration``: its Lambda processor, or None. The
    ``MetadataExtraction`` and ``AppendDelimiterToRecord`` processors are allowed with
    ``dynamic`` partitioning (:mod:`trafficlake.delivery.partitioning` reads them)."""
    if config is None:
        return None
    if not isinstance(config, dict):
        raise InvalidDestinationError("ProcessingConfiguration must be an object")
    enabled = config.get("Enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidDestinationError("ProcessingConfiguration.Enabled must be true or false")
    processors = config.get("Processors") or []
    if not enabled or not processors:
        return None
    if not isinstance(processors, list):
        raise InvalidDestinationError("ProcessingConfiguration.Processors must be a list")
    allowed = {"Lambda", "MetadataExtraction", "AppendDelimiterToRecord"} if dynamic else {"Lambda"}
    kinds = [p.get("Type") if isinstance(p, dict) else None for p in processors]
    if any(k not in allowed for k in kinds) or len(set(kinds)) != len(kinds):
        raise InvalidDestinationError(
            f"ProcessingConfiguration: processors of Type {', '.join(sorted(allowed))} "
            "(at most one each) are supported here"
        )
    lambdas = [p for p in processors if p.get("Type") == "Lambda"]
    if not lambdas:
        return None
    proc = lambdas[0]
    params: dict[str, str] = {}
    for p in proc.get("Parameters") or []:
        if not isinstance(p, dict) or not isinstance(p.get("ParameterValue"), str):
            raise InvalidDestinationError("ProcessingConfiguration: malformed Parameters")
        name = p.get("ParameterName")
        if name not in _PARAMETERS:
            raise InvalidDestinationError(f"ProcessingConfiguration: unknown parameter {name!r}")
        params[name] = p["ParameterValue"]
    if not params.get("LambdaArn"):
        raise InvalidDestinationError(
            "ProcessingConfiguration: the LambdaArn parameter is required"
        )
    retries = _int_parameter(params.get("NumberOfRetries", "3"), "NumberOfRetries", 0, 300)
    if "BufferSizeInMBs" in params:
        _int_parameter(params["BufferSizeInMBs"], "BufferSizeInMBs", 1, 3)
    if "BufferIntervalInSeconds" in params:
        _int_parameter(params["BufferIntervalInSeconds"], "BufferIntervalInSeconds", 60, 900)
    return LambdaProcessor(params["LambdaArn"], retries)


def check_function(settings: Settings, processor: LambdaProcessor) -> str:
    """The declared function's ARN; InvalidDestinationError when it is not declared."""
    from trafficlake.functions import FunctionNotFoundError, function_arn, resolve_function

    try:
        name, _ = resolve_function(settings, processor.function)
    except FunctionNotFoundError as exc:
        raise InvalidDestinationError(f"ProcessingConfiguration: {exc}") from None
    return function_arn(settings, name)


Inner = Callable[[list[bytes], int, bytes | None], tuple[pa.Table, list[RecordError]]]


class ProcessedConverter:
    """Runs the Lambda on a call's records, then the stream's own converter on its output."""

    def __init__(
        self,
        processor: LambdaProcessor,
        inner: Any,
        settings: Settings,
        endpoint_url: str,
        stream_arn: str,
    ) -> None:
        self.processor = processor
        self.inner = inner
        self.schema: pa.Schema = inner.schema
        self.settings = settings
        self.endpoint_url = endpoint_url
        self.stream_arn = stream_arn
        self.lambda_arn = check_function(settings, processor)
        self.processing_extra = {"lambdaArn": self.lambda_arn}

    def _invoke(self, raw: list[bytes], arrival_ms: int) -> dict[str, Any]:
        """The function's answer; raises _InvocationFailed after the retries."""
        from trafficlake.functions import invoke

        event = {
            "invocationId": str(uuid.uuid4()),
            "deliveryStreamArn": self.stream_arn,
            "region": self.settings.aws.region,
            "records": [
                {
                    "recordId": str(i),
                    "approximateArrivalTimestamp": arrival_ms,
                    "data": base64.b64encode(data).decode("ascii"),
                }
                for i, data in enumerate(raw)
            ],
        }
        payload = json.dumps(event).encode()
        reason = ""
        for _ in range(self.processor.retries + 1):
            try:
                result = invoke(self.settings, self.processor.function, payload, self.endpoint_url)
            except TrafficlakeError as exc:
                reason = str(exc)
                continue
            if result.function_error is None:
                try:
                    answer = json.loads(result.payload)
                except ValueError:
                    answer = None
                if isinstance(answer, dict) and isinstance(answer.get("records"), list):
                    return answer
                reason = "the function's response has no records list"
                continue
            reason = result.payload.decode("utf-8", "replace")[:500]
        raise _InvocationFailed(reason)

    def __call__(
        self, raw: list[bytes], arrival_ms: int, joined: bytes | None = None
    ) -> tuple[pa.Table, list[RecordError]]:
        failures: list[RecordError] = []
        try:
            answer = self._invoke(raw, arrival_ms)
        except _InvocationFailed as exc:
            message = f"The Lambda function was invoked {self.processor.retries + 1} times "
            message += f"and failed: {exc}"
            failures = [
                RecordError(i, "Lambda.FunctionError", message, PROCESSING_FAILED)
                for i in range(len(raw))
            ]
            return self.schema.empty_table(), failures
        out: list[bytes] = []
        sources: list[int] = []
        seen: set[int] = set()
        for rec in answer["records"]:
            index = _record_index(rec, len(raw))
            if index is None or index in seen:
                continue
            seen.add(index)
            result = rec.get("result")
            if result == "Dropped":
                continue
            if result == "Ok":
                try:
                    out.append(base64.b64decode(rec.get("data") or "", validate=True))
                    sources.append(index)
                    continue
                except (binascii.Error, ValueError, TypeError):
                    code, message = "Lambda.InvalidData", "the function returned data that is "
                    message += "not base64"
            elif result == "ProcessingFailed":
                code, message = "Lambda.ProcessingFailed", "The Lambda function marked the "
                message += "record ProcessingFailed"
            else:
                code, message = "Lambda.InvalidResult", f"unknown result {result!r}"
            failures.append(RecordError(index, code, message, PROCESSING_FAILED))
        for i in range(len(raw)):
            if i not in seen:
                failures.append(
                    RecordError(
                        i,
                        "Lambda.MissingRecordId",
                        "the function's response lacks this recordId",
                        PROCESSING_FAILED,
                    )
                )
        if not out:
            return self.schema.empty_table(), failures
        table, converted = self.inner(out, arrival_ms, None)
        for e in converted:  # positions in the function's output → the call's records
            failures.append(
                RecordError(sources[e.index], e.code, e.message, e.output_type, out[e.index])
            )
        return table, sorted(failures, key=lambda e: e.index)


def _record_index(rec: Any, n: int) -> int | None:
    if not isinstance(rec, dict) or not isinstance(rec.get("recordId"), str):
        return None
    try:
        index = int(rec["recordId"])
    except ValueError:
        return None
    return index if 0 <= index < n else None


class _InvocationFailed(Exception):
    pass
