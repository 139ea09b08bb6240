"""EventBridge: rules and targets through boto3, AWS's pattern matching, delivery once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_helpers import boto
from botocore.exceptions import ClientError

from trafficlake.aws.endpoint import EndpointServices
from trafficlake.catalog import open_catalog
from trafficlake.events.bus import PENDING_KIND, Dispatcher
from trafficlake.events.pattern import InvalidEventPatternError, matches, parse_pattern

EVENT = {
    "source": "aws.glue",
    "detail-type": "Glue Crawler State Change",
    "resources": ["arn:a", "arn:b"],
    "detail": {"crawlerName": "raw", "state": "Succeeded", "count": 5, "tags": ["x", "y"]},
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["aws.glue"]}, True),
        ({"source": ["aws.s3"]}, False),
        ({"detail": {"state": ["Failed", "Succeeded"]}}, True),
        ({"detail": {"crawlerName": [{"prefix": "ra"}]}}, True),
        ({"detail": {"crawlerName": [{"suffix": "aw"}]}}, True),
        ({"detail": {"state": [{"anything-but": "Succeeded"}]}}, False),
        ({"detail": {"state": [{"anything-but": ["Failed"]}]}}, True),
        ({"detail": {"state": [{"anything-but": {"prefix": "Succ"}}]}}, False),
        ({"detail": {"count": [{"numeric": [">", 0, "<=", 5]}]}}, True),
        ({"detail": {"count": [{"numeric": ["<", 5]}]}}, False),
        ({"detail": {"count": ["5"]}}, False),  # a string never equals a number
        ({"detail": {"count": [5]}}, True),
        ({"detail": {"missing": [{"exists": False}]}}, True),
        ({"detail": {"state": [{"exists": True}]}}, True),
        ({"detail": {"state": [{"exists": False}]}}, False),
        ({"detail": {"tags": ["y"]}}, True),  # an array matches when any element does
        ({"resources": ["arn:b"]}, True),
        ({"detail": {"state": [{"equals-ignore-case": "SUCCEEDED"}]}}, True),
        ({"detail": {"nested": {"x": ["1"]}}}, False),
    ],
)
def test_event_patterns(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(parse_pattern(json.dumps(pattern)), EVENT) is expected


def test_bad_patterns_are_refused() -> None:
    for bad in (
        "{",
        "[]",
        '{"source": "aws.glue"}',
        '{"a": [{"numeric": [">"]}]}',
        '{"a": [{"x": 1}]}',
    ):
        with pytest.raises(InvalidEventPatternError):
            parse_pattern(bad)


def test_rules_and_targets_round_trip(aws: Any) -> None:
    events = boto(aws.url, "events")
    arn = events.put_rule(Name="r1", EventPattern=json.dumps({"source": ["my.app"]}))["RuleArn"]
    assert arn == "arn:aws:events:us-east-1:000000000000:rule/r1"
    events.put_rule(Name="r2", ScheduleExpression="rate(5 minutes)", State="DISABLED")
    with pytest.raises(events.exceptions.InvalidEventPatternException):
        events.put_rule(Name="r3", EventPattern='{"source": "x"}')
    with pytest.raises(ClientError, match="ValidationException"):  # unmodelled, as in AWS
        events.put_rule(Name="r4", ScheduleExpression="every day")
    assert events.describe_rule(Name="r2")["State"] == "DISABLED"
    events.enable_rule(Name="r2")
    assert events.describe_rule(Name="r2")["State"] == "ENABLED"
    events.disable_rule(Name="r2")
    assert [r["Name"] for r in events.list_rules(NamePrefix="r")["Rules"]] == ["r1", "r2"]
    target = {"Id": "t1", "Arn": "arn:aws:states:us-east-1:000000000000:stateMachine:batch"}
    assert events.put_targets(Rule="r1", Targets=[target])["FailedEntryCount"] == 0
    assert events.list_targets_by_rule(Rule="r1")["Targets"] == [target]
    with pytest.raises(ClientError, match=r"ValidationException.*has targets"):
        events.delete_rule(Name="r1")
    gone = events.remove_targets(Rule="r1", Ids=["t1", "nope"])
    assert gone["FailedEntryCount"] == 1 and gone["FailedEntries"][0]["TargetId"] == "nope"
    events.delete_rule(Name="r1")
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_rule(Name="r1")
    put = events.put_events(
        Entries=[
            {"Source": "my.app", "DetailType": "Thing", "Detail": json.dumps({"a": 1})},
            {"Source": "my.app", "DetailType": "Thing", "Detail": "[not an object"},
        ]
    )
    assert put["FailedEntryCount"] == 1 and "EventId" in put["Entries"][0]
    assert put["Entries"][1]["ErrorCode"] == "InvalidArgument"


def test_an_event_is_delivered_once_whoever_dispatches(aws: Any) -> None:
    events = boto(aws.url, "events")
    sfn = boto(aws.url, "stepfunctions")
    machine = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    sm = sfn.create_state_machine(name="on-event", definition=json.dumps(machine), roleArn="r")
    events.put_rule(Name="to-sfn", EventPattern=json.dumps({"detail-type": ["Go"]}))
    events.put_targets(Rule="to-sfn", Targets=[{"Id": "1", "Arn": sm["stateMachineArn"]}])
    # put while no dispatcher runs: the event waits in the catalog
    events.put_events(Entries=[{"Source": "t", "DetailType": "Go", "Detail": "{}"}])
    events.put_events(Entries=[{"Source": "t", "DetailType": "Ignored", "Detail": "{}"}])
    with open_catalog(aws.settings) as catalog:
        assert len(catalog.list_resources(PENDING_KIND)) == 2
    services = lambda: EndpointServices(aws.server.endpoint)  # noqa: E731
    first, second = Dispatcher(aws.settings, services), Dispatcher(aws.settings, services)
    first.tick()
    second.tick()
    delivered = first.delivered + second.delivered
    assert [(d.rule, d.ok) for d in delivered] == [("to-sfn", True)]
    executions = sfn.list_executions(stateMachineArn=sm["stateMachineArn"])["executions"]
    assert len(executions) == 1
    with open_catalog(aws.settings) as catalog:  # only the execution's own status events left
        left = catalog.list_resources(PENDING_KIND)
        assert all(r.body["source"] == "aws.states" for r in left)


def test_trafficlake_emits_aws_events_whoever_starts_the_work(aws: Any, raw_writer: Any) -> None:
    from trafficlake.catalog.crawler import run_crawler
    from trafficlake.workflow.library import run_workflow

    raw_writer.write_hour(aws.lake, 2026, 11, 20, 7)
    run_crawler(aws.settings, "raw")  # the CLI's path
    machine = aws.settings.base_dir / "m.asl.json"
    machine.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    run_workflow(aws.settings, str(machine), {"k": 1})
    with open_catalog(aws.settings) as catalog:
        pending = [r.body for r in catalog.list_resources(PENDING_KIND)]
    kinds = [
        (e["source"], e["detail-type"], e["detail"].get("state") or e["detail"].get("status"))
        for e in pending
    ]
    assert kinds == [
        ("aws.glue", "Glue Crawler State Change", "Started"),
        ("aws.glue", "Glue Crawler State Change", "Succeeded"),
        ("aws.states", "Step Functions Execution Status Change", "SUCCEEDED"),
    ]
    assert pending[0]["detail"]["crawlerName"] == "raw" and pending[0]["account"] == "000000000000"
    assert json.loads(pending[2]["detail"]["input"]) == {"k": 1}


def test_schedule_run_delivers_events_put_while_nothing_ran(
    tmp_path: Any, monkeypatch: Any
) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from trafficlake.cli import app as cli
    from trafficlake.config import load_settings
    from trafficlake.events.bus import make_event, put_event

    monkeypatch.chdir(tmp_path)
    code = Path(__file__).parent / "apps" / "basic"
    (tmp_path / "trafficlake.toml").write_text(
        '[lake]\nurl = "./lake"\n'
        f'[lambda.functions.Mark]\nhandler = "handlers.mark"\ncode_dir = "{code}"\ntimeout_s = 30\n'
        '[[rules]]\nname = "mark-it"\nevent_pattern = { detail-type = ["Mark"] }\n'
        'targets = [{ arn = "arn:aws:lambda:us-east-1:000000000000:function:Mark" }]\n'
    )
    settings = load_settings(tmp_path / "trafficlake.toml")
    marker = tmp_path / "marked.txt"
    with open_catalog(settings) as catalog:
        put_event(catalog, make_event(settings, "test", "Mark", {"path": str(marker)}))
    result = CliRunner().invoke(cli, ["schedule", "run", "--once", "--config", "trafficlake.toml"])
    assert result.exit_code == 0, result.output
    assert marker.read_text() == "Mark"
    with open_catalog(settings) as catalog:
        assert catalog.list_resources(PENDING_KIND) == []


def test_put_targets_replaces_by_id_and_caps_a_rule_at_five(settings: Any) -> None:
    from trafficlake.events import bus

    with open_catalog(settings) as catalog:
        bus.put_rule(catalog, {"Name": "r", "EventPattern": json.dumps({"source": ["a"]})})
        bus.put_targets(catalog, "r", [{"Id": str(i), "Arn": f"arn:{i}"} for i in range(4)])
        bus.put_targets(catalog, "r", [{"Id": "1", "Arn": "arn:new"}, {"Id": "4", "Arn": "arn:4"}])
        rule = bus.get_rule(catalog, "r")
        assert [(t["Id"], t["Arn"]) for t in rule["Targets"]][:2] == [
            ("0", "arn:0"),
            ("1", "arn:new"),
        ]
        assert len(rule["Targets"]) == 5
        with pytest.raises(bus.TargetLimitError, match="would have 6 targets"):
            bus.put_targets(catalog, "r", [{"Id": "5", "Arn": "arn:5"}])
        assert len(bus.get_rule(catalog, "r")["Targets"]) == 5  # nothing changed
