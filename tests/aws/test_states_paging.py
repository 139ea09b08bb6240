"""Step Functions listing through boto3's paginators: ListStateMachines, ListExecutions
(statusFilter), GetExecutionHistory (reverseOrder, includeExecutionData); maxResults and
nextToken errors as AWS reports them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_helpers import boto
from test_states import ROLE, wait_done

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": 1}, "End": True}}}


def test_list_executions_pages_newest_first(aws: Any) -> None:
    sfn = boto(aws.url, "stepfunctions", inject_host_prefix=False)
    arn = sfn.create_state_machine(name="m", definition=json.dumps(PASS), roleArn=ROLE)[
        "stateMachineArn"
    ]
    for i in range(5):
        wait_done(sfn, sfn.start_execution(stateMachineArn=arn, name=f"e{i}")["executionArn"])
    paginator = sfn.get_paginator("list_executions")
    pages = list(paginator.paginate(stateMachineArn=arn, PaginationConfig={"PageSize": 2}))
    assert [[e["name"] for e in p["executions"]] for p in pages] == [
        ["e4", "e3"],
        ["e2", "e1"],
        ["e0"],
    ]
    assert "nextToken" not in pages[-1]
    filtered = paginator.paginate(
        stateMachineArn=arn, statusFilter="SUCCEEDED", PaginationConfig={"PageSize": 3}
    )
    assert len(filtered.build_full_result()["executions"]) == 5
    assert sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"] == []
    assert len(sfn.list_executions(stateMachineArn=arn, maxResults=0)["executions"]) == 5

    with pytest.raises(sfn.exceptions.ValidationException, match="at 'statusFilter'"):
        sfn.list_executions(stateMachineArn=arn, statusFilter="DONE")
    with pytest.raises(
        sfn.exceptions.ValidationException,
        match="Value '1001' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000",
    ):
        sfn.list_executions(stateMachineArn=arn, maxResults=1001)
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.list_executions(stateMachineArn=arn, nextToken="made-up")
    token = sfn.list_executions(stateMachineArn=arn, maxResults=2)["nextToken"]
    with pytest.raises(sfn.exceptions.InvalidToken):  # other arguments than the token's
        sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED", nextToken=token)
    rest = sfn.list_executions(stateMachineArn=arn, maxResults=10, nextToken=token)
    assert [e["name"] for e in rest["executions"]] == ["e2", "e1", "e0"]  # page size may change


def test_list_state_machines_pages(aws: Any) -> None:
    sfn = boto(aws.url, "stepfunctions")
    for name in ("a1", "a2", "a3"):
        sfn.create_state_machine(name=name, definition=json.dumps(PASS), roleArn=ROLE)
    everything = sfn.list_state_machines(maxResults=1000)["stateMachines"]
    pages = list(
        sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 2})
    )
    assert len(pages) == (len(everything) + 1) // 2
    names = [m["name"] for p in pages for m in p["stateMachines"]]
    assert names == [m["name"] for m in everything] == sorted(names)
    assert {"a1", "a2", "a3", "batch"} <= set(names)
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.list_state_machines(nextToken="bm9wZQ==")


def test_execution_history_pages_both_ways(aws: Any) -> None:
    sfn = boto(aws.url, "stepfunctions", inject_host_prefix=False)
    arn = sfn.create_state_machine(name="h", definition=json.dumps(PASS), roleArn=ROLE)[
        "stateMachineArn"
    ]
    ex = sfn.start_execution(stateMachineArn=arn, input='{"a": 1}')["executionArn"]
    wait_done(sfn, ex)
    full = sfn.get_execution_history(executionArn=ex)["events"]
    ids = [e["id"] for e in full]
    assert ids == sorted(ids) and len(ids) >= 4
    paginator = sfn.get_paginator("get_execution_history")
    pages = list(paginator.paginate(executionArn=ex, PaginationConfig={"PageSize": 2}))
    assert [e["id"] for p in pages for e in p["events"]] == ids and len(pages[0]["events"]) == 2
    backwards = paginator.paginate(
        executionArn=ex, reverseOrder=True, PaginationConfig={"PageSize": 3}
    ).build_full_result()
    assert [e["id"] for e in backwards["events"]] == ids[::-1]

    started = full[0]["executionStartedEventDetails"]
    assert json.loads(started["input"]) == {"a": 1}
    bare = sfn.get_execution_history(executionArn=ex, includeExecutionData=False)["events"]
    assert "input" not in bare[0]["executionStartedEventDetails"]
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.get_execution_history(executionArn=ex, nextToken="x")
    token = sfn.get_execution_history(executionArn=ex, maxResults=1)["nextToken"]
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.get_execution_history(executionArn=ex, reverseOrder=True, nextToken=token)
