"""Task resources: built-in crawler/transform tasks and ``python:module.function`` user code.

Built-ins (``Resource`` strings):
- ``trafficlake:crawler.start``  ``{"Name": ...}`` -> ``{"Name", "CrawlRunId"}``
- ``trafficlake:crawler.get``    ``{"Name": ...}`` -> ``{"CrawlerState", "CrawlerStatus", "ErrorMessage"}``
- ``trafficlake:transform.start`` ``{year?, month?, day?}`` -> ``{"JobRunId"}``
- ``trafficlake:transform.get``  ``{"JobRunId": ...}`` -> ``{"JobRunState", "RowsWritten", "Error"}``
- ``trafficlake:crawler.start.sync`` / ``trafficlake:transform.start.sync``: start, wait, and fail
  the task (``CrawlFailedError`` / ``TransformFailedError``) when the run failed.
- ``trafficlake:roads.derive`` ``{year?, month?, day?}`` -> ``{"RoadsRunId", "Days",
  "JamEpisodes"}``: jam episodes and detector health, in the foreground (``RoadsFailedError``).
- ``trafficlake:catalog.compact`` ``{MinFiles?, SettleMinutes?}`` -> ``{"Partitions",
  "FilesBefore", "FilesAfter"}``: raw compaction in the foreground (docs/catalog.md); put it
  after the crawl and before the transform.
Every built-in passes ``year``/``month``/``day`` through when its input (or ``Input``) has them,
like the seed's Lambda functions.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trafficlake.workflow import aws_tasks
from trafficlake.workflow.errors import UnknownResourceError, WorkflowError

if TYPE_CHECKING:
    from trafficlake.catalog.base import Catalog
    from trafficlake.config import Settings

POLL_SECONDS = 1.0


class CrawlFailedError(WorkflowError):
    """A crawl started by a ``.sync`` task ended FAILED or CANCELLED."""


class TransformFailedError(WorkflowError):
    """A transform run started by a ``.sync`` task ended FAILED."""


@dataclass
class TaskContext:
    settings: Settings | None
    catalog: Catalog | None
    sleep: Callable[[float], None]
    """Sleep (scaled by ``wait_scale``), interrupted by cancellation or the machine timeout."""
    context: dict[str, Any]
    """The context object ``$$``."""
    execution_id: str

    def need_settings(self) -> Settings:
        if self.settings is None:
            raise WorkflowError("built-in tasks need settings (run through the CLI or pass them)")
        return self.settings

    def open_catalog(self) -> Catalog:
        if self.catalog is None:
            from trafficlake.catalog import open_catalog

            self.catalog = open_catalog(self.need_settings())
        return self.catalog


Task = Callable[[Any, TaskContext], Any]


def _passthrough(params: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(params, dict):
        for src in (params.get("Input"), params):
            if isinstance(src, dict):
                for key in ("year", "month", "day"):
                    if key in src and key not in out:
                        out[key] = src[key]
    return out


def _name(params: Any) -> str:
    if not isinstance(params, dict) or not isinstance(params.get("Name"), str):
        raise WorkflowError('the crawler task needs Parameters {"Name": CRAWLER}')
    return str(params["Name"])


def crawler_start(params: Any, ctx: TaskContext) -> dict[str, Any]:
    from trafficlake.catalog.crawler import start_crawler

    name = _name(params)
    run = start_crawler(ctx.need_settings(), name, wait=False)
    return _passthrough(params, {"Name": name, "CrawlRunId": run.id})


def crawler_get(params: Any, ctx: TaskContext) -> dict[str, Any]:
    crawler = ctx.open_catalog().get_crawler(_name(params))
    last = crawler.last_crawl
    status = last.status if last is not None else None
    message = last.error_message if last is not None else None
    if status == "CANCELLED" and not message:
        message = "the crawl was cancelled"
    return _passthrough(
        params, {"CrawlerState": crawler.state, "CrawlerStatus": status, "ErrorMessage": message}
    )


def crawler_start_sync(params: Any, ctx: TaskContext) -> dict[str, Any]:
    started = crawler_start(params, ctx)
    while True:
        state = crawler_get(params, ctx)
        if state["CrawlerState"] == "READY":
            break
        ctx.sleep(POLL_SECONDS)
    if state["CrawlerStatus"] != "SUCCEEDED":
        raise CrawlFailedError(
            f"crawler {started['Name']!r} {str(state['CrawlerStatus']).lower()}: "
            f"{state['ErrorMessage']}"
        )
    return {**started, **state}


def _start_day(params: Any) -> dt.date | None:
    """The seed's start-date input: all of year, month and day, or none of them."""
    src = params.get("Input", params) if isinstance(params, dict) else {}
    if not isinstance(src, dict):
        return None
    given: dict[str, Any] = {k: src[k] for k in ("year", "month", "day") if src.get(k) is not None}
    if not given:
        return None
    if len(given) < 3:
        missing = ", ".join(k for k in ("year", "month", "day") if k not in given)
        raise WorkflowError(f"start date input needs year, month and day (missing: {missing})")
    try:
        return dt.date(int(given["year"]), int(given["month"]), int(given["day"]))
    except (TypeError, ValueError) as e:
        raise WorkflowError(f"bad start date year/month/day: {e}") from None


def transform_start(params: Any, ctx: TaskContext) -> dict[str, Any]:
    from trafficlake.transform import start_transform

    run = start_transform(ctx.need_settings(), start_day=_start_day(params), wait=False)
    return _passthrough(params, {"JobRunId": run.id})


def transform_get(params: Any, ctx: TaskContext) -> dict[str, Any]:
    if not isinstance(params, dict) or not params.get("JobRunId"):
        raise WorkflowError('the transform.get task needs {"JobRunId": ...}')
    run = ctx.open_catalog().get_job_run(str(params["JobRunId"]))
    rows = run.result.get("rows_written") if run.result else None
    return _passthrough(
        params,
        {"JobRunId": run.id, "JobRunState": run.state, "RowsWritten": rows, "Error": run.error},
    )


def transform_start_sync(params: Any, ctx: TaskContext) -> dict[str, Any]:
    started = transform_start(params, ctx)
    while True:
        state = transform_get({"JobRunId": started["JobRunId"]}, ctx)
        if state["JobRunState"] != "RUNNING":
            break
        ctx.sleep(POLL_SECONDS)
    if state["JobRunState"] != "SUCCEEDED":
        raise TransformFailedError(f"transform run {started['JobRunId']} failed: {state['Error']}")
    return {**started, **state}


class RoadsFailedError(WorkflowError):
    """A roads run (jam episodes, detector health) started by a task ended FAILED."""


def roads_derive(params: Any, ctx: TaskContext) -> dict[str, Any]:
    """``trafficlake roads derive`` as a task (in the foreground): incremental, or from the
    start-date input up to yesterday like the transform."""
    from trafficlake.roads.derive import derive

    result = derive(ctx.need_settings(), start_day=_start_day(params))
    if result.state != "SUCCEEDED":
        raise RoadsFailedError(f"roads run {result.run_id} failed: {result.error}")
    return _passthrough(
        params,
        {"RoadsRunId": result.run_id, "Days": result.days, "JamEpisodes": result.jams},
    )


def catalog_compact(params: Any, ctx: TaskContext) -> dict[str, Any]:
    """``trafficlake catalog compact`` of the raw table as a task (in the foreground)."""
    from trafficlake.catalog.compaction import compact

    args = params if isinstance(params, dict) else {}
    min_files, settle = args.get("MinFiles", 2), args.get("SettleMinutes", 60)
    if isinstance(min_files, bool) or not isinstance(min_files, int) or min_files < 2:
        raise WorkflowError(
            f"trafficlake:catalog.compact: MinFiles must be an integer >= 2, not {min_files!r}"
        )
    if isinstance(settle, bool) or not isinstance(settle, (int, float)) or settle < 0:
        raise WorkflowError(
            f"trafficlake:catalog.compact: SettleMinutes must be a number >= 0, not {settle!r}"
        )
    done = compact(ctx.need_settings(), min_files=min_files, settle_seconds=float(settle) * 60)
    return _passthrough(
        params,
        {"Partitions": done.partitions, "FilesBefore": done.files_before,
         "FilesAfter": done.files_after},
    )  # fmt: skip


BUILTINS: dict[str, Task] = {
    "trafficlake:crawler.start": crawler_start,
    "trafficlake:crawler.get": crawler_get,
    "trafficlake:crawler.start.sync": crawler_start_sync,
    "trafficlake:transform.start": transform_start,
    "trafficlake:transform.get": transform_get,
    "trafficlake:transform.start.sync": transform_start_sync,
    "trafficlake:roads.derive": roads_derive,
    "trafficlake:catalog.compact": catalog_compact,
}


class TaskRegistry:
    """Resolves ``Resource`` strings to callables ``fn(input, TaskContext) -> result``."""

    def __init__(
        self, extra: dict[str, Task] | None = None, aws: Callable[[], Any] | None = None
    ) -> None:
        self.tasks: dict[str, Task] = {**BUILTINS, **(extra or {})}
        self.aws = aws
        """Gives the :class:`~trafficlake.workflow.aws_tasks.AwsServices` that AWS resources
        (Lambda ARNs, ``arn:aws:states:::...``) run against; None: they cannot run."""

    def register(self, resource: str, fn: Task) -> None:
        self.tasks[resource] = fn

    def resolve(self, resource: str) -> Task:
        if resource in self.tasks:
            return self.tasks[resource]
        if resource.startswith("python:"):
            return _python_task(resource[len("python:") :])
        if aws_tasks.is_aws_resource(resource):
            if self.aws is None:
                raise UnknownResourceError(
                    f"task resource {resource!r} needs the AWS services: run it with "
                    "`trafficlake workflow run` or through `trafficlake aws serve`"
                )
            return aws_tasks.resolve(resource, self.aws)
        raise UnknownResourceError(
            f"unknown task resource {resource!r}: use one of {', '.join(sorted(BUILTINS))}, "
            "python:package.module.function or an AWS resource (Lambda function ARN, "
            "arn:aws:states:::...)"
        )


def _python_task(target: str) -> Task:
    module_name, sep, func_name = target.replace(":", ".").rpartition(".")
    if not sep or not module_name:
        raise UnknownResourceError(f"python task {target!r} must be package.module.function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise UnknownResourceError(
            f"python task {target!r}: cannot import {module_name}: {e}"
        ) from None
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise UnknownResourceError(
            f"python task {target!r}: {module_name} has no function {func_name!r}"
        )

    def call(params: Any, ctx: TaskContext) -> Any:
        return fn(params)

    return call
