"""Validation before running: one test per rule, messages naming the state and field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from trafficlake.workflow.asl import load_definition, load_text
from trafficlake.workflow.errors import ValidationError
from trafficlake.workflow.serverless import machines_of
from trafficlake.workflow.validation import validate

BASE: dict[str, Any] = {
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Task", "Resource": "python:m.f", "Next": "Check"},
        "Check": {
            "Type": "Choice",
            "Default": "Done",
            "Choices": [{"Variable": "$.x", "StringEquals": "a", "Next": "Start"}],
        },
        "Done": {"Type": "Succeed"},
    },
}


def problems(**changes: Any) -> list[str]:
    doc = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = doc
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[keys[-1]] = value
    return validate(doc)


def test_base_is_valid() -> None:
    assert validate(BASE) == []


def test_unknown_next_target_message() -> None:
    assert problems(States__Start__Next="Foo") == [
        "state 'Start': field 'Next' names unknown state 'Foo'"
    ]


def test_unknown_and_missing_fields() -> None:
    assert "state 'Start': unknown field 'Seconds' for a Task state" in problems(
        States__Start__Seconds=3
    )
    doc = copy.deepcopy(BASE)
    del doc["States"]["Start"]["Resource"]
    assert "state 'Start': missing required field 'Resource'" in validate(doc)
    assert any("field 'Type' must be one of" in p for p in problems(States__Done__Type="Nope"))
    assert "top level: unknown field 'Extra'" in problems(Extra=1)


def test_start_at_default_and_catch_targets() -> None:
    assert "top level: field 'StartAt' names unknown state 'Nope'" in problems(StartAt="Nope")
    assert "state 'Check': field 'Default' names unknown state 'Gone'" in problems(
        States__Check__Default="Gone"
    )
    assert "state 'Check': field 'Choices[0].Next' names unknown state 'Z'" in problems(
        States__Check__Choices__0__Next="Z"
    )
    assert "state 'Start': field 'Catch[0].Next' names unknown state 'Nowhere'" in problems(
        States__Start__Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Nowhere"}]
    )


def test_unreachable_state() -> None:
    assert problems(States__Orphan={"Type": "Succeed"}) == [
        "state 'Orphan': unreachable from StartAt 'Start'"
    ]


def test_next_xor_end() -> None:
    assert "state 'Start': has both 'Next' and 'End'; exactly one is allowed" in problems(
        States__Start__End=True
    )
    doc = copy.deepcopy(BASE)
    del doc["States"]["Start"]["Next"]
    assert "state 'Start': needs exactly one of 'Next' or 'End: true'" in validate(doc)


def test_states_all_alone_and_last() -> None:
    p = problems(States__Start__Retry=[{"ErrorEquals": ["States.ALL", "X"]}])
    assert "state 'Start': Retry[0]: 'States.ALL' must appear alone in ErrorEquals" in p
    p = problems(
        States__Start__Catch=[
            {"ErrorEquals": ["States.ALL"], "Next": "Done"},
            {"ErrorEquals": ["X"], "Next": "Done"},
        ]
    )
    assert "state 'Start': Catch[0]: a rule with 'States.ALL' must be the last Catch rule" in p
    p = problems(
        States__Start__Retry=[
            {
                "ErrorEquals": ["X"],
                "BackoffRate": 0.5,
                "IntervalSeconds": 0,
                "JitterStrategy": "SOME",
            }
        ]
    )
    assert len(p) == 3


def test_duplicate_state_names_in_yaml_and_json() -> None:
    yaml_text = """
StartAt: A
States:
  A:
    Type: Pass
    Next: B
  B:
    Type: Succeed
  A:
    Type: Pass
    End: true
"""
    with pytest.raises(ValidationError) as e:
        load_text(yaml_text)
    assert "duplicate state name 'A' (line 9)" in e.value.problems
    json_text = '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Succeed"}}}'
    with pytest.raises(ValidationError) as e:
        load_text(json_text)
    assert "duplicate state name 'A'" in e.value.problems


def test_names_unique_across_nested_machines() -> None:
    doc = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "End": True,
                "Branches": [{"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}],
            }
        },
    }
    assert "state 'P': the name is used more than once in the machine" in validate(doc)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"Variable": "$.x", "StringEquals": "a", "NumericEquals": 1, "Next": "Done"},
            "needs exactly one comparison operator or And/Or/Not (has StringEquals, NumericEquals)",
        ),
        ({"StringEquals": "a", "Next": "Done"}, "field 'Variable' is required with 'StringEquals'"),
        (
            {"Variable": "$.x", "NumericEquals": "1", "Next": "Done"},
            "field 'NumericEquals' has a value of the wrong type: '1'",
        ),
        ({"Variable": "$.x", "StringEquals": "a"}, "missing required field 'Next'"),
        (
            {"And": [{"Variable": "$.x", "IsNull": True, "Next": "Done"}], "Next": "Done"},
            "And[0]: field 'Next' is only allowed on top-level choice rules",
        ),
        (
            {"Not": {"StringEquals": "a"}, "Next": "Done"},
            "Not: field 'Variable' is required with 'StringEquals'",
        ),
        (
            {"Variable": "$.x", "And": [], "Next": "Done"},
            "field 'Variable' is not allowed with 'And'",
        ),
        (
            {"Variable": "$.x", "TimestampEquals": "yesterday", "Next": "Done"},
            "field 'TimestampEquals' has a value of the wrong type: 'yesterday'",
        ),
        (
            {"Variable": "$.x", "StringEqualsPath": "$.a[*]", "Next": "Done"},
            "field 'StringEqualsPath' must be a reference path, got '$.a[*]'",
        ),
    ],
)
def test_choice_rules(rule: dict[str, Any], message: str) -> None:
    assert f"state 'Check': Choices[0]: {message}" in problems(States__Check__Choices=[rule])


def test_wait_exactly_one_duration() -> None:
    doc = copy.deepcopy(BASE)
    doc["States"]["Start"]["Next"] = "W"
    doc["States"]["W"] = {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "Next": "Check"}
    assert (
        "state 'W': needs exactly one of 'Seconds', 'SecondsPath', 'Timestamp', "
        "'TimestampPath' (has Seconds, SecondsPath)"
    ) in validate(doc)
    doc["States"]["W"] = {"Type": "Wait", "Next": "Check"}
    assert any("needs exactly one of 'Seconds'" in p for p in validate(doc))


def test_nested_definitions_validated_recursively() -> None:
    doc = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "End": True,
                "ItemProcessor": {
                    "StartAt": "I",
                    "States": {"I": {"Type": "Pass", "Next": "Outside"}},
                },
            }
        },
    }
    assert "state 'I': field 'Next' names unknown state 'Outside'" in validate(doc)
    doc = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "End": True,
                "Branches": [{"StartAt": "X", "States": {"Y": {"Type": "Succeed"}}}],
            }
        },
    }
    p = validate(doc)
    assert "state 'P': Branches[0]: field 'StartAt' names unknown state 'X'" in p
    doc = {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True}}}
    assert "state 'M': needs exactly one of 'ItemProcessor' or 'Iterator'" in validate(doc)


def test_fail_error_path_exclusive_and_timeouts_positive() -> None:
    doc = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}}}
    assert "state 'F': fields 'Error' and 'ErrorPath' are mutually exclusive" in validate(doc)
    p = problems(States__Start__TimeoutSeconds=0, States__Start__HeartbeatSeconds=1.5)
    assert "state 'Start': field 'TimeoutSeconds' must be a positive integer" in p
    assert "state 'Start': field 'HeartbeatSeconds' must be a positive integer" in p
    assert "top level: field 'TimeoutSeconds' must be an integer in 1..99999999" in problems(
        TimeoutSeconds=-1
    )


def test_validation_error_lists_all_problems(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    doc["States"]["Start"]["Next"] = "Foo"
    doc["States"]["Done"]["Bogus"] = 1
    path = tmp_path / "bad.asl.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValidationError) as e:
        load_definition(path)
    assert len(e.value.problems) == 2
    assert str(e.value).startswith(f"2 problems in {path}: ")


def test_not_json_or_yaml(tmp_path: Path) -> None:
    path = tmp_path / "x.asl.json"
    path.write_text("{ not json")
    with pytest.raises(ValidationError, match="not valid JSON or YAML"):
        load_definition(path)
    for text, reason in (
        ('{"StartAt": "A", "States": {}', "Expecting ',' delimiter: line 1 column 30 (char 29)"),
        ("StartAt: A\nStates: [\n", "expected the node content, but found '<stream end>' "
                                     "(line 3, column 1)"),
    ):  # fmt: skip
        path.write_text(text)
        for load in (load_definition, machines_of):  # an ASL file, a Serverless layout
            with pytest.raises(ValidationError) as e:
                load(path)
            assert str(e.value) == f"1 problem in {path}: not valid JSON or YAML: {reason}"


def test_unknown_predefined_error_and_unsupported_features() -> None:
    p = problems(States__Start__Retry=[{"ErrorEquals": ["States.Everything"]}])
    assert "state 'Start': Retry[0]: unknown predefined error 'States.Everything'" in p
    doc = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "End": True,
                "ItemReader": {},
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
            }
        },
    }
    assert "state 'M': ItemReader.Resource must be one of" in " ".join(validate(doc))
    assert "top level: field 'QueryLanguage' must be 'JSONPath' or 'JSONata'" in problems(
        QueryLanguage="XPath"
    )
