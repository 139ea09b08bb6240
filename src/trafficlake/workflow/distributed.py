"""Distributed Map (``ProcessorConfig.Mode: DISTRIBUTED``): items read from the lake, batched,
run as child executions (persisted like any execution, under ``MACHINE/LABEL``), results
written back to the lake.

S3 locations map to the lake as the Glue adapter's do (``trafficlake.catalog.glue.lake_key``):
``s3://BUCKET/KEY`` is ``KEY`` under the lake root, or under the folder ``[aws] buckets`` gives
for ``BUCKET``, on a local lake; on an S3 lake the location must lie inside the lake.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import threading
import uuid
from typing import TYPE_CHECKING, Any

from trafficlake.catalog.glue import lake_key as location_key
from trafficlake.storage import Lake
from trafficlake.workflow import query
from trafficlake.workflow.errors import StatesError
from trafficlake.workflow.history import iso
from trafficlake.workflow.paths import compact, select
from trafficlake.workflow.payload import resolve_template
from trafficlake.workflow.states import (
    INLINE_CONCURRENCY,
    Item,
    entries,
    map_items,
    map_setting,
    run_all,
)

if TYPE_CHECKING:
    from trafficlake.workflow.runtime import Executor
    from trafficlake.workflow.scope import Scope

LIST_OBJECTS = "arn:aws:states:::s3:listObjectsV2"
GET_OBJECT = "arn:aws:states:::s3:getObject"
PUT_OBJECT = "arn:aws:states:::s3:putObject"
INPUT_TYPES = ("CSV", "JSON", "JSONL")
DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
READER_FAILED = "States.ItemReaderFailed"
WRITER_FAILED = "States.ResultWriterFailed"


def is_distributed(state: dict[str, Any]) -> bool:
    processor = state.get("ItemProcessor") or {}
    config = processor.get("ProcessorConfig") or {}
    return bool(config.get("Mode") == "DISTRIBUTED")


def _lake(ex: Executor, error: str) -> tuple[Lake, Any]:
    if ex.settings is None:
        raise StatesError(error, "a distributed Map reads and writes the lake: it needs settings")
    return Lake.from_settings(ex.settings), ex.settings


def lake_key(settings: Any, lake: Lake, bucket: str, key: str) -> str:
    """The lake key of ``s3://bucket/key`` (the Glue adapter's location rule)."""
    return location_key(settings, lake, f"s3://{bucket}/{key}")


def _parameters(
    ex: Executor, spec: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope, what: str
) -> dict[str, Any]:
    if ex.jsonata(spec) or "Arguments" in spec:
        b = ex.bindings(scope, data, ctx)
        params = query.resolve(spec.get("Arguments", {}), b, f"{what}.Arguments")
    else:
        params = resolve_template(
            spec.get("Parameters", {}), data, ctx, f"{what}.Parameters", scope.variables
        )
    if not isinstance(params, dict) or not isinstance(params.get("Bucket"), str):
        raise StatesError(
            READER_FAILED if what == "ItemReader" else WRITER_FAILED,
            f"{what} needs a Bucket (and a Key or Prefix)",
        )
    return params


# ---- reading items --------------------------------------------------------------------------


def read_items(
    ex: Executor, name: str, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope
) -> list[Item]:
    """The items of a distributed Map, each with its ``$$.Map.Item`` (``Value``, and ``Key``
    for the entries of a JSON object): from the ItemReader, else as an inline Map's."""
    reader = state.get("ItemReader")
    if reader is None:
        return map_items(ex, name, state, data, ctx, scope)
    params = _parameters(ex, reader, data, ctx, scope, "ItemReader")
    config = reader.get("ReaderConfig", {})
    limit = config.get("MaxItems")
    if "MaxItemsPath" in config:
        limit = select(config["MaxItemsPath"], data, ctx, field="MaxItemsPath")
    if query.is_expression(limit):
        limit = query.evaluate(limit, ex.bindings(scope, data, ctx), "MaxItems")
    if limit is not None and not (isinstance(limit, int) and not isinstance(limit, bool)):
        raise StatesError("States.Runtime", f"ReaderConfig.MaxItems must be an integer: {limit!r}")
    lake, settings = _lake(ex, READER_FAILED)
    bucket = params["Bucket"]
    try:
        if reader["Resource"] == LIST_OBJECTS:
            listed = _list_objects(lake, lake_key(settings, lake, bucket, params.get("Prefix", "")))
            items = [(v, {"Value": v}) for v in listed]
        else:
            key = params.get("Key")
            if not isinstance(key, str):
                raise StatesError(READER_FAILED, "s3:getObject needs a Key")
            raw = lake.read_bytes(lake_key(settings, lake, bucket, key))
            items = _parse_object(raw, config, f"s3://{bucket}/{key}")
    except StatesError:
        raise
    except Exception as e:  # a missing object, an unreadable lake
        raise StatesError(READER_FAILED, f"{type(e).__name__}: {e}") from None
    return items[:limit] if limit else items


def _pointer(doc: Any, pointer: str) -> Any:
    """RFC 6901 JSON pointer (``/records/0``); ``""`` is the whole document."""
    node = doc
    for raw in pointer.split("/")[1:] if pointer else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise StatesError(
                READER_FAILED,
                "The provided ReaderConfig.ItemsPointer does not match any valid path in the "
                "JSON structure.",
            )
    return node


def _list_objects(lake: Lake, prefix: str) -> list[dict[str, Any]]:
    folder = prefix if prefix.endswith("/") or not prefix else prefix.rpartition("/")[0]
    listed = sorted(
        (e for e in lake.list(folder.rstrip("/")) if e.key.startswith(prefix)), key=lambda e: e.key
    )
    return [
        {
            "Etag": '"' + hashlib.md5(lake.read_bytes(e.key)).hexdigest() + '"',
            "Key": e.key,
            "LastModified": (e.mtime_ns or 0) // 1_000_000_000,
            "Size": e.size,
            "StorageClass": "STANDARD",
        }
        for e in listed
    ]


def _parse_object(raw: bytes, config: dict[str, Any], where: str) -> list[Item]:
    kind = config.get("InputType")
    if kind not in INPUT_TYPES:
        raise StatesError(READER_FAILED, f"ReaderConfig.InputType must be one of {INPUT_TYPES}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise StatesError(READER_FAILED, f"{where} is not UTF-8 text") from None
    if kind == "JSON":
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise StatesError(READER_FAILED, f"{where} is not JSON: {e}") from None
        found = entries(_pointer(doc, config.get("ItemsPointer", "")))
        if found is None:
            raise StatesError(READER_FAILED, "Attempting to map over non-iterable node.")
        return found
    if kind == "JSONL":
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError as e:
                    raise StatesError(READER_FAILED, f"{where} line {n} is not JSON: {e}") from None
        return [(v, {"Value": v}) for v in out]
    delimiter = DELIMITERS.get(config.get("CSVDelimiter", "COMMA"), ",")
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if config.get("CSVHeaderLocation", "FIRST_ROW") == "GIVEN":
        headers = config.get("CSVHeaders") or []
    else:
        if not rows:
            return []
        headers, rows = rows[0], rows[1:]
    out = []
    for n, row in enumerate(rows, 2):
        if not row:
            continue
        if len(row) > len(headers):
            raise StatesError(READER_FAILED, f"{where} row {n} has more fields than headers")
        out.append({h: (row[i] if i < len(row) else "") for i, h in enumerate(headers)})
    return [(v, {"Value": v}) for v in out]


# ---- batching -------------------------------------------------------------------------------


def batch(
    ex: Executor, state: dict[str, Any], items: list[Any], data: Any, ctx: dict[str, Any],
    scope: Scope,
) -> list[Any]:  # fmt: skip
    """Group items as ItemBatcher says: ``{"Items": [...], "BatchInput": ...}`` per child."""
    batcher = state.get("ItemBatcher")
    if batcher is None:
        return items
    per = map_setting(ex, batcher, "MaxItemsPerBatch", data, ctx, scope)
    max_bytes = map_setting(ex, batcher, "MaxInputBytesPerBatch", data, ctx, scope)
    if not per and not max_bytes:
        raise StatesError(
            "States.Runtime", "ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch"
        )
    extra: dict[str, Any] = {}
    if "BatchInput" in batcher:
        template = batcher["BatchInput"]
        if ex.jsonata(state):
            extra["BatchInput"] = query.resolve(
                template, ex.bindings(scope, data, ctx), "BatchInput"
            )
        else:
            extra["BatchInput"] = resolve_template(
                template, data, ctx, "BatchInput", scope.variables
            )
    batches: list[Any] = []
    current: list[Any] = []
    size = 0
    for item in items:
        item_size = len(compact(item).encode())
        full = (per and len(current) >= per) or (
            max_bytes and current and size + item_size > max_bytes
        )
        if full:
            batches.append({"Items": current, **extra})
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        batches.append({"Items": current, **extra})
    return batches


# ---- running the children -------------------------------------------------------------------


def run_distributed_map(
    ex: Executor, name: str, state: dict[str, Any], data: Any, ctx: dict[str, Any], scope: Scope
) -> Any:
    """Read, select, batch, run each input as a child execution, tolerate, write results."""
    read = read_items(ex, name, state, data, ctx, scope)
    contexts = [{"Index": i, **item_ctx} for i, (_, item_ctx) in enumerate(read)]
    items = [item for item, _ in read]
    selector = state.get("ItemSelector")
    if selector is not None:
        selected = []
        for item_ctx in contexts:
            map_ctx = dict(ctx, Map={"Item": item_ctx})
            if ex.jsonata(state):
                b = ex.bindings(scope, data, map_ctx)
                selected.append(query.resolve(selector, b, "ItemSelector"))
            else:
                selected.append(
                    resolve_template(selector, data, map_ctx, "ItemSelector", scope.variables)
                )
        items = selected
    inputs = batch(ex, state, items, data, ctx, scope)
    batched = "ItemBatcher" in state
    limit = map_setting(ex, state, "MaxConcurrency", data, ctx, scope) or 0
    tol_count = map_setting(ex, state, "ToleratedFailureCount", data, ctx, scope)
    tol_pct = map_setting(
        ex, state, "ToleratedFailurePercentage", data, ctx, scope, percentage=True
    )
    label = state.get("Label") or name
    child_name = f"{ex.machine.name}/{label}"
    arn_prefix = ex.context_base["StateMachine"]["Id"].split(":stateMachine:")[0]
    map_run_arn = f"{arn_prefix}:mapRun:{child_name}:{uuid.uuid4()}"
    processor = dict(state["ItemProcessor"])
    processor.pop("ProcessorConfig", None)
    processor.setdefault("QueryLanguage", ex.machine.definition.get("QueryLanguage", "JSONPath"))
    machine = dataclasses.replace(ex.machine, name=child_name, definition=processor)
    ex.event(scope, "MapRunStarted", name=name, mapRunArn=map_run_arn, length=len(inputs))
    results: list[Any] = [None] * len(inputs)
    failed = 0
    lock = threading.Lock()

    def exceeded() -> bool:
        if tol_count is None and tol_pct is None:
            return failed > 0
        if tol_count is not None and failed > tol_count:
            return True
        return bool(tol_pct is not None and failed * 100.0 / len(inputs) > tol_pct)

    def child(i: int) -> Any:
        nonlocal failed
        ex.check(scope)
        r = type(ex)(
            machine,
            settings=ex.settings,
            catalog=ex.catalog,
            clock=ex.clock,
            wait_scale=ex.wait_scale,
            tasks=ex.tasks,
        ).run(inputs[i], name=str(uuid.uuid4()), map_item=None if batched else contexts[i])
        results[i] = r
        if r.status != "SUCCEEDED":
            with lock:
                failed += 1
                stop = exceeded()
            if stop:
                raise StatesError(
                    "States.ExceedToleratedFailureThreshold",
                    "The specified tolerated failure threshold was exceeded",
                )
        return r

    workers = min(limit or INLINE_CONCURRENCY, INLINE_CONCURRENCY)
    _, error = run_all(len(inputs), child, workers, threading.Event(), name)
    done = [r for r in results if r is not None]
    writer = state.get("ResultWriter")
    output: Any = None
    if writer is not None:
        records = [_child_record(r, arn_prefix, child_name) for r in done]
        output = _write_results(ex, writer, records, map_run_arn, data, ctx, scope)
    if error is not None:
        cause = error.cause if isinstance(error, StatesError) else str(error)
        ex.event(scope, "MapRunFailed", name=name, error=getattr(error, "error", None), cause=cause)
        raise error
    ex.event(scope, "MapRunSucceeded", name=name, mapRunArn=map_run_arn)
    if output is not None:
        return output
    return [
        r.output if r.status == "SUCCEEDED" else {"Error": r.error, "Cause": r.cause} for r in done
    ]


def _child_record(r: Any, arn_prefix: str, machine: str) -> dict[str, Any]:
    """A child execution as ResultWriter writes it (DescribeExecution's shape)."""
    rec: dict[str, Any] = {
        "ExecutionArn": f"{arn_prefix}:execution:{r.id}",
        "Input": compact(r.events[0].details.get("input")) if r.events else "{}",
        "InputDetails": {"Included": True},
        "Name": r.name,
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "StartDate": iso(r.started_at),
        "StateMachineArn": f"{arn_prefix}:stateMachine:{machine}",
        "Status": r.status,
        "StopDate": iso(r.stopped_at),
    }
    if r.status == "SUCCEEDED":
        rec["Output"] = compact(r.output)
        rec["OutputDetails"] = {"Included": True}
    else:
        rec["Error"], rec["Cause"] = r.error, r.cause
    return rec


def _write_results(
    ex: Executor,
    writer: dict[str, Any],
    records: list[dict[str, Any]],
    map_run_arn: str,
    data: Any,
    ctx: dict[str, Any],
    scope: Scope,
) -> dict[str, Any]:
    params = _parameters(ex, writer, data, ctx, scope, "ResultWriter")
    lake, settings = _lake(ex, WRITER_FAILED)
    bucket, prefix = params["Bucket"], str(params.get("Prefix", "")).strip("/")
    run_id = map_run_arn.rsplit(":", 1)[1]
    base = f"{prefix}/{run_id}" if prefix else run_id
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    try:
        for status in ("SUCCEEDED", "FAILED"):
            group = [r for r in records if (r["Status"] == "SUCCEEDED") == (status == "SUCCEEDED")]
            if not group:
                continue
            key = f"{base}/{status}_0.json"
            body = json.dumps(group, ensure_ascii=False).encode()
            lake.put_atomic(lake_key(settings, lake, bucket, key), body)
            files[status].append({"Key": key, "Size": len(body)})
        manifest_key = f"{base}/manifest.json"
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
        lake.put_atomic(
            lake_key(settings, lake, bucket, manifest_key), json.dumps(manifest).encode()
        )
    except StatesError:
        raise
    except Exception as e:
        raise StatesError(WRITER_FAILED, f"{type(e).__name__}: {e}") from None
    return {
        "MapRunArn": map_run_arn,
        "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key},
    }
