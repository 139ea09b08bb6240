"""Distributed Map over a real local lake and a real SQLite catalog: ItemReader (listObjectsV2,
getObject CSV/JSON/JSONL), ItemBatcher, ResultWriter, Label, MaxItems, tolerated failures and
child executions persisted like any execution."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from wf_helpers import FakeClock, task

from trafficlake.catalog import open_catalog
from trafficlake.config import Settings
from trafficlake.storage import Lake
from trafficlake.workflow import Executor, from_dict
from trafficlake.workflow.runtime import ExecutionResult
from trafficlake.workflow.validation import validate

PASS_CHILD = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def dmap(processor: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    body = dict(processor or PASS_CHILD)
    body["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    return {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": body, **fields,
                                             "End": True}}}  # fmt: skip


def go(settings: Settings, definition: dict[str, Any], input: Any = None) -> ExecutionResult:
    assert validate(definition) == []
    with open_catalog(settings) as catalog:
        ex = Executor(
            from_dict(definition, "dm"), settings=settings, catalog=catalog, clock=FakeClock()
        )
        return ex.run(input or {})


def put(settings: Settings, key: str, body: str) -> None:
    Lake.from_settings(settings).put_atomic(key, body.encode())


def reader(kind: str, key: str, **config: Any) -> dict[str, Any]:
    return {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": kind, **config},
        "Parameters": {"Bucket": "any-bucket", "Key": key},
    }


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        ("JSON", '[{"a": 1}, {"a": 2}]', [{"a": 1}, {"a": 2}]),
        ("JSONL", '{"a": 1}\n\n{"a": 2}\n', [{"a": 1}, {"a": 2}]),
        ("CSV", "id,name\n1,ann\n2,bob\n", [{"id": "1", "name": "ann"}, {"id": "2", "name": "bob"}]),
    ],
)  # fmt: skip
def test_get_object_readers(settings: Settings, kind: str, body: str, expected: Any) -> None:
    put(settings, f"in/items.{kind.lower()}", body)
    r = go(settings, dmap(ItemReader=reader(kind, f"in/items.{kind.lower()}")))
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == expected


def test_csv_given_headers_and_max_items(settings: Settings) -> None:
    put(settings, "in/rows.csv", "1;a\n2;b\n3;c\n")
    spec = reader(
        "CSV", "in/rows.csv", CSVHeaderLocation="GIVEN", CSVHeaders=["n", "l"],
        CSVDelimiter="SEMICOLON", MaxItems=2,
    )  # fmt: skip
    r = go(settings, dmap(ItemReader=spec))
    assert r.output == [{"n": "1", "l": "a"}, {"n": "2", "l": "b"}]


def test_list_objects_over_a_lake_prefix_with_item_selector(settings: Settings) -> None:
    for day in (1, 2, 3):
        put(settings, f"raw/year=2026/month=01/day={day:02d}/part.json", "[]")
    put(settings, "other/x.json", "[]")
    d = dmap(
        ItemReader={
            "Resource": "arn:aws:states:::s3:listObjectsV2",
            "Parameters": {"Bucket": "lake", "Prefix": "raw/year=2026/month=01/"},
        },
        ItemSelector={"key.$": "$$.Map.Item.Value.Key", "size.$": "$$.Map.Item.Value.Size"},
    )
    r = go(settings, d)
    assert r.status == "SUCCEEDED", r.cause
    assert [o["key"] for o in r.output] == [
        f"raw/year=2026/month=01/day={d:02d}/part.json" for d in (1, 2, 3)
    ]
    assert all(o["size"] == 2 for o in r.output)


def test_bucket_mapped_to_a_lake_folder(settings: Settings) -> None:
    mapped = dataclasses.replace(
        settings, aws=dataclasses.replace(settings.aws, buckets={"archive": "cold"})
    )
    put(mapped, "cold/in/x.json", "[5]")
    spec = reader("JSON", "in/x.json")
    spec["Parameters"]["Bucket"] = "archive"
    assert go(mapped, dmap(ItemReader=spec)).output == [5]


def test_batcher_result_writer_and_children_in_the_catalog(settings: Settings) -> None:
    d = dmap(
        {"StartAt": "Sum", "States": {"Sum": {"Type": "Pass", "Parameters": {
            "n.$": "States.ArrayLength($.Items)", "tag.$": "$.BatchInput.tag"}, "End": True}}},
        ItemsPath="$.xs",
        Label="Batches",
        ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"tag.$": "$.tag"}},
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "results", "Prefix": "out/runs"},
        },
    )  # fmt: skip
    r = go(settings, d, {"xs": [1, 2, 3, 4, 5], "tag": "t"})
    assert r.status == "SUCCEEDED", r.cause
    arn = r.output["MapRunArn"]
    assert arn.startswith("arn:aws:states:us-east-1:000000000000:mapRun:dm/Batches:")
    key = r.output["ResultWriterDetails"]["Key"]
    assert r.output["ResultWriterDetails"]["Bucket"] == "results"
    lake = Lake.from_settings(settings)
    manifest = json.loads(lake.read_bytes(key))
    assert manifest["MapRunArn"] == arn
    assert manifest["ResultFiles"]["FAILED"] == []
    (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
    rows = json.loads(lake.read_bytes(succeeded["Key"]))
    assert sorted(json.loads(x["Output"])["n"] for x in rows) == [1, 2, 2]
    assert {json.loads(x["Output"])["tag"] for x in rows} == {"t"}
    assert all(x["ExecutionArn"].split(":execution:")[1].startswith("dm/Batches:") for x in rows)
    with open_catalog(settings) as catalog:
        children = catalog.list_executions(state_machine="dm/Batches")
        assert len(children) == 3 and {c.status for c in children} == {"SUCCEEDED"}
        assert catalog.get_history(children[0].id)[0].type == "ExecutionStarted"
    assert [e.type for e in r.events] == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapRunStarted",
        "MapRunSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]


def test_tolerated_failures(settings: Settings) -> None:
    child = {"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
        {"Variable": "$", "NumericGreaterThan": 2, "Next": "Bad"}], "Default": "Ok"},
        "Bad": {"Type": "Fail", "Error": "TooBig"}, "Ok": {"Type": "Succeed"}}}  # fmt: skip
    ok = dmap(child, ToleratedFailureCount=2, MaxConcurrency=1)
    r = go(settings, ok, [1, 2, 3, 4])
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == [
        1,
        2,
        {"Error": "TooBig", "Cause": None},
        {"Error": "TooBig", "Cause": None},
    ]
    strict = dmap(child, ToleratedFailurePercentage=10, MaxConcurrency=1)
    r = go(settings, strict, [1, 2, 3, 4])
    assert (r.status, r.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert "MapRunFailed" in [e.type for e in r.events]


def test_children_do_not_see_outer_variables(settings: Settings) -> None:
    d = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"v": 1}, "Next": "M"},
            "M": dmap(
                {
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$v"}, "End": True}},
                }
            )["States"]["M"],
        },
    }
    r = go(settings, d, [1])
    assert (r.status, r.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def test_reader_failures(settings: Settings) -> None:
    r = go(settings, dmap(ItemReader=reader("JSON", "missing.json")))
    assert (r.status, r.error) == ("FAILED", "States.ItemReaderFailed")
    put(settings, "in/obj.json", '"a string, not an array or object"')
    r = go(settings, dmap(ItemReader=reader("JSON", "in/obj.json")))
    assert (r.status, r.error) == ("FAILED", "States.ItemReaderFailed")


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"ItemReader": {"Resource": "arn:aws:states:::s3:nope"}}, "ItemReader.Resource"),
        ({"ItemBatcher": {"BatchInput": {}}}, "ItemBatcher needs"),
        ({"ItemReader": {**reader("XML", "k")}}, "InputType must be CSV, JSON or JSONL"),
        (
            {"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "WriterConfig": {}}},
            "WriterConfig (output types, transformations) is not supported",
        ),
        ({"ItemReader": "s3://lake/in/"}, "field 'ItemReader' must be an object"),
        ({"ItemReader": ["x"]}, "field 'ItemReader' must be an object"),
        ({"ItemReader": {"Resource": ["a list"]}}, "ItemReader.Resource must be one of"),
    ],
)
def test_distributed_validation(fields: dict[str, Any], needle: str) -> None:
    assert any(needle in p for p in validate(dmap(**fields)))


def test_task_children(settings: Settings) -> None:
    d = dmap({"StartAt": "T", "States": {"T": {**task("echo"), "End": True}}})
    r = go(settings, d, [{"x": 1}, {"x": 2}])
    assert r.output == [{"x": 1}, {"x": 2}]


def test_json_object_dataset_items_pointer_and_map_item_context(settings: Settings) -> None:
    put(settings, "in/doc.json", '{"meta": 1, "records": {"a": {"x": 1}, "b": {"x": 2}}}')
    spec = reader("JSON", "in/doc.json", ItemsPointer="/records")
    r = go(settings, dmap(ItemReader=spec))
    assert r.output == [{"Key": "a", "Value": {"x": 1}}, {"Key": "b", "Value": {"x": 2}}]
    selector = {"k.$": "$$.Map.Item.Key", "i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"}
    r = go(settings, dmap(ItemReader=spec, ItemSelector=selector))
    assert r.output == [{"k": "a", "i": 0, "v": {"x": 1}}, {"k": "b", "i": 1, "v": {"x": 2}}]
    child = {"StartAt": "P", "States": {"P": {"Type": "Pass", "QueryLanguage": "JSONata",
             "Output": "{% $states.context.Map.Item.Index %}", "End": True}}}  # fmt: skip
    assert go(settings, dmap(child, ItemReader=spec)).output == [0, 1]


@pytest.mark.parametrize(
    ("pointer", "cause"),
    [
        ("/missing", "The provided ReaderConfig.ItemsPointer does not match any valid path"),
        ("/meta", "Attempting to map over non-iterable node."),
    ],
)
def test_items_pointer_failures(settings: Settings, pointer: str, cause: str) -> None:
    put(settings, "in/doc.json", '{"meta": 1}')
    r = go(settings, dmap(ItemReader=reader("JSON", "in/doc.json", ItemsPointer=pointer)))
    assert (r.status, r.error) == ("FAILED", "States.ItemReaderFailed")
    assert cause in (r.cause or "")


def test_item_reader_on_an_inline_map_fails_at_run_time_as_on_aws(settings: Settings) -> None:
    d = dmap(ItemReader=reader("JSON", "in/x.json"))
    del d["States"]["M"]["ItemProcessor"]["ProcessorConfig"]
    r = go(settings, d)
    assert (r.status, r.error) == ("FAILED", "States.Runtime")
    assert (r.cause or "").endswith(
        "The ItemReader, ItemBatcher and ResultWriter fields are not supported for INLINE maps"
    )
