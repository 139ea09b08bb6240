"""EventBridge listing through boto3's paginators: ListRules (NamePrefix, Limit, NextToken) and
ListTargetsByRule, with AWS's ValidationException for a bad Limit or token."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_helpers import boto, raw_call
from botocore.exceptions import ClientError

PATTERN = json.dumps({"source": ["my.app"]})


def test_list_rules_pages_by_name_within_a_prefix(aws: Any) -> None:
    events = boto(aws.url, "events")
    for i in range(5):
        events.put_rule(Name=f"pg-{i}", EventPattern=PATTERN)
    events.put_rule(Name="other", EventPattern=PATTERN)
    paginator = events.get_paginator("list_rules")
    pages = list(paginator.paginate(NamePrefix="pg-", PaginationConfig={"PageSize": 2}))
    assert [[r["Name"] for r in p["Rules"]] for p in pages] == [
        ["pg-0", "pg-1"],
        ["pg-2", "pg-3"],
        ["pg-4"],
    ]
    assert "NextToken" not in pages[-1]
    assert pages[0]["Rules"][0]["Arn"].endswith(":rule/pg-0")
    everything = [r["Name"] for r in events.list_rules()["Rules"]]
    assert {"pg-0", "other"} <= set(everything) and everything == sorted(everything)

    with pytest.raises(ClientError, match="Value '101' at 'limit' failed to satisfy") as err:
        events.list_rules(Limit=101)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    status, body = raw_call(aws.url, "AWSEvents.ListRules", {"Limit": 0})  # boto3 refuses 0
    assert status == 400 and body["__type"] == "ValidationException"
    assert "greater than or equal to 1" in body["message"]
    with pytest.raises(ClientError, match="ValidationException"):
        events.list_rules(NextToken="made-up")
    token = events.list_rules(NamePrefix="pg-", Limit=2)["NextToken"]
    with pytest.raises(ClientError, match="ValidationException"):  # another prefix's token
        events.list_rules(NamePrefix="other", NextToken=token)


def test_list_targets_by_rule_pages_in_order(aws: Any) -> None:
    events = boto(aws.url, "events")
    events.put_rule(Name="fan-out", EventPattern=PATTERN)
    arn = "arn:aws:lambda:us-east-1:000000000000:function:F{}"
    events.put_targets(
        Rule="fan-out", Targets=[{"Id": f"t{i}", "Arn": arn.format(i)} for i in range(5)]
    )
    pages = list(
        events.get_paginator("list_targets_by_rule").paginate(
            Rule="fan-out", PaginationConfig={"PageSize": 2}
        )
    )
    assert [[t["Id"] for t in p["Targets"]] for p in pages] == [["t0", "t1"], ["t2", "t3"], ["t4"]]
    with pytest.raises(events.exceptions.LimitExceededException, match="at most 5"):
        events.put_targets(Rule="fan-out", Targets=[{"Id": "t5", "Arn": arn.format(5)}])
    events.put_targets(Rule="fan-out", Targets=[{"Id": "t0", "Arn": arn.format(9)}])  # replaced
    assert events.list_targets_by_rule(Rule="fan-out", Limit=1)["Targets"][0]["Arn"].endswith("F9")
    token = pages[0]["NextToken"]
    events.remove_targets(Rule="fan-out", Ids=["t1"])  # the page's last target is gone
    with pytest.raises(ClientError, match="ValidationException"):
        events.list_targets_by_rule(Rule="fan-out", NextToken=token)
    with pytest.raises(ClientError, match="ValidationException"):
        events.list_targets_by_rule(Rule="fan-out", Limit=101)
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.list_targets_by_rule(Rule="nope")
