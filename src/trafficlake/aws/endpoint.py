"""The services one endpoint serves, independent of HTTP.

:class:`Endpoint` opens every registered adapter (:data:`SERVICES`) with the endpoint's
:class:`~trafficlake.aws.service.AwsContext`, runs operations by ``X-Amz-Target`` or by service
name (the state machine runtime's ``aws-sdk:`` integrations use the same object), declares the
Glue resources of the ``[workflow] serverless`` files at start, and closes the services.
:class:`EndpointServices` is what state machine tasks and event targets call.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from collections.abc import Mapping
from typing import Any

from trafficlake.aws.service import AwsContext, AwsError, Operation, ServiceAdapter
from trafficlake.config import Settings
from trafficlake.errors import ConfigError

log = logging.getLogger(__name__)

SERVICES: dict[str, str] = {
    "firehose": "trafficlake.aws.firehose",
    "athena": "trafficlake.aws.athena",
    "glue": "trafficlake.aws.glue",
    "lambda": "trafficlake.aws.lambda_",
    "states": "trafficlake.aws.states",
    "events": "trafficlake.aws.events",
}
"""Service name → adapter module (each defines ``ADAPTER``)."""


class Endpoint:
    """The operations of every registered service, independent of HTTP.

    ``call(target, body)`` runs one JSON 1.1 operation (``"AWSGlue.GetCrawler"``); the state
    machine runtime uses the same object for its ``aws-sdk:`` task integrations.
    """

    def __init__(self, context: AwsContext, services: Mapping[str, str] | None = None) -> None:
        self.context = dataclasses.replace(context, services=lambda: EndpointServices(self))
        context = self.context
        self.by_prefix: dict[str, Mapping[str, Operation]] = {}
        self.by_service: dict[str, Mapping[str, Operation]] = {}
        try:
            for name, module in (services or SERVICES).items():
                adapter: ServiceAdapter = importlib.import_module(module).ADAPTER
                ops = adapter.make_operations(context)
                self.by_prefix[adapter.target_prefix] = ops
                self.by_service[name] = ops
            if "glue" in self.by_service:
                self._declare_resources()
        except BaseException:
            self.close()
            raise

    def _declare_resources(self) -> None:
        """Create the Glue databases, tables, crawlers and jobs, and the Firehose delivery
        streams (when Firehose is served), the ``[workflow] serverless`` files declare under
        ``resources:`` (CloudFormation), as a deployment would; existing ones are left as they
        are."""
        from trafficlake.workflow.errors import WorkflowError
        from trafficlake.workflow.serverless import STREAM_TYPE, resources_of

        settings = self.context.settings
        for f in settings.workflow.serverless:
            try:
                resources = resources_of(settings.resolve_path(f), self.context.account_id)
            except WorkflowError as exc:
                raise ConfigError(f"workflow.serverless: {exc}") from None
            for kind, logical, props in resources:
                request = dict(props)
                request.pop("CatalogId", None)
                if kind == STREAM_TYPE:
                    if "firehose" in self.by_service:
                        request.setdefault("DeliveryStreamName", logical)
                        self._create("CreateDeliveryStream", request, logical, "firehose")
                    continue
                if kind == "AWS::Glue::Database":
                    operation = "CreateDatabase"
                elif kind == "AWS::Glue::Table":
                    operation = "CreateTable"
                    database = {"DatabaseInput": {"Name": request.get("DatabaseName", "")}}
                    self._create("CreateDatabase", database, logical)
                elif kind == "AWS::Glue::Crawler":
                    operation = "CreateCrawler"
                    request.setdefault("Name", logical)
                    for target in (request.get("Targets") or {}).get("S3Targets") or []:
                        path = str(target.get("Path", ""))
                        if "://" not in path:  # Glue takes BUCKET/PREFIX for s3://BUCKET/PREFIX
                            target["Path"] = "s3://" + path
                else:
                    operation = "CreateJob"
                    request.setdefault("Name", logical)
                self._create(operation, request, logical)

    def _create(
        self, operation: str, request: dict[str, Any], logical: str, service: str = "glue"
    ) -> None:
        try:
            self.call_service(service, operation, request)
        except AwsError as exc:
            if exc.code not in ("AlreadyExistsException", "ResourceInUseException"):
                raise ConfigError(
                    f"workflow.serverless: resource {logical}: {exc.code}: {exc.message}"
                ) from None

    def call(self, target: str, body: dict[str, Any]) -> dict[str, Any]:
        prefix, _, operation = target.rpartition(".")
        ops = self.by_prefix.get(prefix + ".")
        if ops is None:
            raise AwsError("UnknownOperationException", f"unknown target {target!r}")
        return self._run(ops, operation, body)

    def call_service(self, service: str, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run ``operation`` (AWS name) of ``service`` (``"glue"``, ``"athena"``, ...)."""
        ops = self.by_service.get(service)
        if ops is None:
            raise AwsError("UnknownOperationException", f"service {service!r} is not served")
        return self._run(ops, operation, body)

    @staticmethod
    def _run(ops: Mapping[str, Operation], operation: str, body: dict[str, Any]) -> dict[str, Any]:
        fn = ops.get(operation)
        if fn is None:
            raise AwsError("UnknownOperationException", f"unknown operation {operation!r}")
        return fn(body)

    def close(self) -> None:
        """Close every service that holds resources (flushes delivery streams)."""
        for ops in self.by_service.values():
            close = getattr(ops, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    log.exception("closing a service failed")


def aws_context(settings: Settings, endpoint_url: str, token: str = "") -> AwsContext:
    a = settings.aws
    return AwsContext(settings, a.region, a.account_id, endpoint_url, token)


class EndpointServices:
    """The :class:`~trafficlake.workflow.aws_tasks.AwsServices` of a running endpoint: what
    state machine tasks call (in process) and where their Lambda handlers call back to."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.settings = endpoint.context.settings

    def call(self, service: str, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.endpoint.call_service(service, operation, body)

    def invoke(self, function: str, payload: bytes) -> Any:
        from trafficlake.functions import invoke

        ctx = self.endpoint.context
        return invoke(self.settings, function, payload, ctx.endpoint_url, access_key=ctx.token)
