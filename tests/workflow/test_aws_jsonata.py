"""JSONata states and workflow variables as AWS documents them ("Transforming data with JSONata",
"Passing data between states with variables"): worked examples and error behaviour."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from wf_helpers import FakeClock, run, task

from trafficlake.workflow.validation import validate


def jsonata(states: dict[str, Any], start: str | None = None) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "StartAt": start or next(iter(states)), "States": states}


def pass_output(output: Any) -> dict[str, Any]:
    return jsonata({"S": {"Type": "Pass", "Output": output, "End": True}})


def test_jsonpath_to_jsonata_conversion_example() -> None:
    """The guide's conversion sample: same result from Parameters and from Arguments."""
    arguments = {
        "static": "Hello",
        "title": "{% $states.input.title %}",
        "name": "{% $customerName %}",
        "not-evaluated": "$customerName",
    }
    d = jsonata(
        {
            "Init": {"Type": "Pass", "Assign": {"customerName": "María"}, "Next": "T"},
            "T": {**task("echo"), "Arguments": arguments, "End": True},
        }
    )
    assert validate(d) == []
    r = run(d, {"title": "Doctor"})
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == {
        "static": "Hello",
        "title": "Doctor",
        "name": "María",
        "not-evaluated": "$customerName",
    }


FUNCTION_EXAMPLES = [
    ("{% $partition([1,2,3,4,5,6,7,8,9], 3) %}", [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
    ("{% $partition([1,2,3,4,5], 2) %}", [[1, 2], [3, 4], [5]]),
    ("{% $range(0, 10, 2) %}", [0, 2, 4, 6, 8, 10]),
    ("{% $range(5, 1, -2) %}", [5, 3, 1]),
    ("{% $hash('input data', 'SHA-1') %}", hashlib.sha1(b"input data").hexdigest()),
    ('{% $parse(\'{"a": [1, {"b": true}]}\') %}', {"a": [1, {"b": True}]}),
    ("{% $random(7) = $random(7) %}", True),
    ("{% $random(42) %}", 0.7275636800328681),  # java.util.Random(42).nextDouble()
    ("{% 4 / 2 %}", 2),
    ("{% $length($uuid()) %}", 36),
    ("{% $sum($states.input.xs) %}", 6),
    ("{% $states.input.xs[$ > 1] %}", [2, 3]),
    ("{% $states.context.State.Name %}", "S"),
    ("{% null %}", None),
    ({"nested": ["{% 1 + 1 %}", {"k": "{% 'a' & 'b' %}"}]}, {"nested": [2, {"k": "ab"}]}),
]


@pytest.mark.parametrize(("output", "expected"), FUNCTION_EXAMPLES)
def test_jsonata_output_and_aws_functions(output: Any, expected: Any) -> None:
    r = run(pass_output(output), {"xs": [1, 2, 3]})
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == expected


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        ("{% $states.input.missing %}", "returned nothing (undefined)"),
        ("{% $error('boom') %}", "boom"),
        ("{% $partition('x', 2) %}", "$partition"),
        ("{% $range(0, 5000, 1) %}", "at most 1000"),
        ("{% $eval('1') %}", "$parse"),
    ],
)
def test_jsonata_errors_are_query_evaluation_errors(output: str, needle: str) -> None:
    r = run(pass_output(output), {})
    assert (r.status, r.error) == ("FAILED", "States.QueryEvaluationError")
    assert needle in (r.cause or "")
    assert r.cause.startswith("An error occurred while executing the state 'S'")
    assert "EvaluationFailed" in [e.type for e in r.events]


@pytest.mark.parametrize(
    "expr",
    ["{% $count([1..5000000].($ * 2)) %}", "{% ($f := function($n){ $f($n + 1) }; $f(0)) %}"],
)
def test_a_looping_expression_is_stopped(monkeypatch: pytest.MonkeyPatch, expr: str) -> None:
    from trafficlake.workflow import query

    monkeypatch.setattr(query, "TIMEOUT_MS", 300)
    started = time.monotonic()
    r = run(pass_output(expr), {})
    assert (r.status, r.error) == ("FAILED", "States.QueryEvaluationError")
    assert "ran longer than 300 ms" in (r.cause or "")
    assert time.monotonic() - started < 30


def test_assign_is_evaluated_with_the_values_from_state_entry() -> None:
    """Assign (and Output) read the variables as they were when the state was entered."""
    d = jsonata(
        {
            "Init": {"Type": "Pass", "Assign": {"x": 1, "y": 2}, "Next": "Swap"},
            "Swap": {
                "Type": "Pass",
                "Assign": {"x": "{% $y %}", "y": "{% $x %}"},
                "Output": {"x": "{% $x %}"},
                "Next": "Show",
            },
            "Show": {
                "Type": "Pass",
                "Output": {"before": "{% $states.input.x %}", "x": "{% $x %}", "y": "{% $y %}"},
                "End": True,
            },
        }
    )
    r = run(d, {})
    assert r.output == {"before": 1, "x": 2, "y": 1}


def test_states_result_and_error_output_in_catch() -> None:
    d = jsonata(
        {
            "T": {
                **task("raise_custom"),
                "Assign": {"never": 1},
                "Catch": [
                    {
                        "ErrorEquals": ["CustomError"],
                        "Assign": {"err": "{% $states.errorOutput.Error %}"},
                        "Output": {"in": "{% $states.input.v %}"},
                        "Next": "Add",
                    }
                ],
                "End": True,
            },
            "Add": {
                **task("add"),
                "Arguments": {"a": "{% $states.input.in %}", "b": 2},
                "Output": {
                    "sum": "{% $states.result %}",
                    "err": "{% $err %}",
                    "never": "{% $exists($never) %}",
                },
                "End": True,
            },
        }
    )
    assert validate(d) == []
    r = run(d, {"v": 40})
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == {"sum": 42, "err": "CustomError", "never": False}


def test_choice_condition_state_and_rule_assign() -> None:
    """The state-level Assign applies whichever rule matches; a rule's own Assign wins."""
    d = jsonata(
        {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $states.input.n > 3 %}",
                        "Assign": {"size": "big"},
                        "Next": "Done",
                    }
                ],
                "Default": "Done",
                "Assign": {"size": "small", "seen": "{% $states.input.n %}"},
                "Output": {"n": "{% $states.input.n * 10 %}"},
            },
            "Done": {
                "Type": "Pass",
                "Output": {
                    "size": "{% $size %}",
                    "seen": "{% $seen %}",
                    "in": "{% $states.input %}",
                },
                "End": True,
            },
        }
    )
    assert validate(d) == []
    assert run(d, {"n": 5}).output == {"size": "big", "seen": 5, "in": {"n": 50}}
    assert run(d, {"n": 1}).output == {"size": "small", "seen": 1, "in": {"n": 10}}
    bad = jsonata(
        {
            "C": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% 'yes' %}", "Next": "D"}],
                "Default": "D",
            },
            "D": {"Type": "Succeed"},
        }
    )
    assert run(bad, {}).error == "States.QueryEvaluationError"


def test_map_items_item_selector_and_read_only_outer_variables() -> None:
    d = jsonata(
        {
            "Init": {"Type": "Pass", "Assign": {"k": 10}, "Next": "M"},
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.xs %}",
                "ItemSelector": {
                    "v": "{% $states.context.Map.Item.Value %}",
                    "i": "{% $states.context.Map.Item.Index %}",
                },
                "MaxConcurrency": "{% 2 %}",
                "ItemProcessor": {
                    "StartAt": "Inner",
                    "States": {
                        "Inner": {
                            "Type": "Pass",
                            "Assign": {"inner": "{% $k + 1 %}"},
                            "Output": "{% $states.input.v * $k + $states.input.i %}",
                            "End": True,
                        }
                    },
                },
                "Output": {"r": "{% $states.result %}", "k": "{% $k %}"},
                "End": True,
            },
        }
    )
    assert validate(d) == []
    r = run(d, {"xs": [1, 2, 3]})
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == {"r": [10, 21, 32], "k": 10}
    inner = d["States"]["M"]["ItemProcessor"]["States"]["Inner"]
    inner["Assign"] = {"k": 1}
    assert validate(d) == ["state 'Inner': Assign assigns 'k', a variable of an outer scope"]


def test_parallel_arguments_and_wait_seconds(clock: FakeClock) -> None:
    d = jsonata(
        {
            "W": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "Next": "P"},
            "P": {
                "Type": "Parallel",
                "Arguments": {"x": "{% $states.input.s * 2 %}"},
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                    {
                        "StartAt": "B",
                        "States": {
                            "B": {
                                "Type": "Pass",
                                "Output": "{% $states.input.x + 1 %}",
                                "End": True,
                            }
                        },
                    },
                ],
                "End": True,
            },
        }
    )
    r = run(d, {"s": 3}, clock=clock)
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == [{"x": 6}, 7]
    assert clock.sleeps == [3.0]


def test_fail_error_and_cause_expressions() -> None:
    d = jsonata({"F": {"Type": "Fail", "Error": "{% 'E' & $states.input.c %}", "Cause": "why"}})
    r = run(d, {"c": "42"})
    assert (r.error, r.cause) == ("E42", "why")


def test_state_level_query_language_in_a_jsonpath_machine() -> None:
    d = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Parameters": {"v.$": "$.v"}, "Next": "B"},
            "B": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": "{% $states.input.v + 1 %}",
                "End": True,
            },
        },
    }
    assert validate(d) == []
    assert run(d, {"v": 1}).output == 2


@pytest.mark.parametrize(
    ("state", "needle"),
    [
        ({"Type": "Pass", "Parameters": {"a": 1}, "End": True},
         "state 'S': field 'Parameters' is not supported in a JSONata state"),
        ({"Type": "Pass", "OutputPath": "$.a", "End": True},
         "state 'S': field 'OutputPath' is not supported in a JSONata state"),
        ({"Type": "Pass", "QueryLanguage": "JSONPath", "End": True},
         "state 'S': a state may not use QueryLanguage 'JSONPath' in a JSONata state machine"),
        ({"Type": "Pass", "Output": "{% 1 + %}", "End": True}, "state 'S': Output: the JSONata"),
        ({"Type": "Pass", "Assign": {"1bad": 1}, "End": True}, "'1bad' is not a valid variable"),
        ({"Type": "Pass", "Assign": {"states": 1}, "End": True}, "'states' is not a valid"),
        ({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "S"}]},
         "field 'Variable' is not supported in a JSONata Choice rule"),
        ({"Type": "Wait", "Seconds": "{% %}", "End": True}, "the JSONata expression is empty"),
        ({"Type": "Pass", "Output": "{% $.a %}", "End": True}, "may not start with '$' or '$$'"),
        ({"Type": "Pass", "Output": "{% $$.Execution %}", "End": True}, "may not start with"),
        ({"Type": "Pass", "Output": {"v": "{% a.b %}"}, "End": True},
         "may not start with a field name"),
    ],
)  # fmt: skip
def test_validation_rejects_mixes_aws_rejects(state: dict[str, Any], needle: str) -> None:
    found = validate(jsonata({"S": state}))
    assert any(needle in p for p in found), found


def test_jsonata_fields_in_a_jsonpath_state_are_rejected() -> None:
    d = {"StartAt": "S", "States": {"S": {"Type": "Pass", "Output": "{% 1 %}", "End": True}}}
    assert validate(d) == ["state 'S': field 'Output' is not supported in a JSONPath state"]


def test_variable_size_limit() -> None:
    d = jsonata({"S": {"Type": "Pass", "Assign": {"big": "{% $pad('', 300000, 'x') %}"},
                       "End": True}})  # fmt: skip
    r = run(d, {})
    assert (r.status, r.error) == ("FAILED", "States.DataLimitExceeded")
    assert "'big'" in (r.cause or "")


def test_all_variables_together_are_limited_to_10_mib() -> None:
    fill = {f"v{i}": "{% $pad('', 200000, 'x') %}" for i in range(1)}
    states = {
        f"S{n}": {
            "Type": "Pass",
            "Assign": {f"v{n}": next(iter(fill.values()))},
            "Next": f"S{n + 1}",
        }
        for n in range(60)
    }
    states["S59"] = {**states["S59"], "End": True}
    del states["S59"]["Next"]
    r = run(jsonata(states, "S0"), {})
    assert (r.status, r.error) == ("FAILED", "States.DataLimitExceeded")
    entered = [e.details["name"] for e in r.events if e.type == "PassStateEntered"]
    assert entered[-1] == "S52"  # 53 x 200,000 bytes > 10 MiB


def test_an_assigned_null_is_a_variable_holding_null() -> None:
    d = jsonata(
        {
            "A": {"Type": "Pass", "Assign": {"n": "{% $states.input.bar %}"}, "Next": "B"},
            "B": {"Type": "Pass", "Output": {"v": "{% $n %}", "e": "{% $exists($n) %}"},
                  "End": True},
        }
    )  # fmt: skip
    assert run(d, {"bar": None}).output == {"v": None, "e": True}


def test_map_over_a_json_object_iterates_its_entries() -> None:
    processor = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    d = jsonata({"M": {"Type": "Map", "Items": {"a": 1, "b": 2}, "ItemProcessor": processor,
                       "ItemSelector": {"k": "{% $states.context.Map.Item.Key %}",
                                        "v": "{% $states.context.Map.Item.Value %}"},
                       "End": True}})  # fmt: skip
    assert run(d, {}).output == [{"k": "a", "v": 1}, {"k": "b", "v": 2}]
    jsonpath = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.o",
                "ItemProcessor": processor, "End": True}}}  # fmt: skip
    assert run(jsonpath, {"o": {"x": [1]}}).output == [{"Key": "x", "Value": [1]}]


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"S": {"Type": "Pass", "Output": {"v": "{% $states.input.missing %}"}, "End": True}},
         "Output/v"),
        ({"S": {"Type": "Pass", "Assign": {"x": "{% $states.input.missing %}"}, "End": True}},
         "Assign/x"),
        ({"S": {"Type": "Choice", "Default": "D", "Choices": [
            {"Condition": "{% false %}", "Next": "D"},
            {"Condition": "{% $states.input.missing %}", "Next": "D"}]},
          "D": {"Type": "Succeed"}}, "Choices[1]/Condition"),
        ({"S": {"Type": "Choice", "Default": "D", "Choices": [
            {"Condition": "{% false %}", "Next": "D"},
            {"Condition": "{% true %}", "Output": {"v": "{% $states.input.missing %}"},
             "Next": "D"}]},
          "D": {"Type": "Succeed"}}, "Choices[1]/Output/v"),
        ({"S": {"Type": "Choice", "Default": "D", "Choices": [
            {"Condition": "{% true %}", "Assign": {"x": "{% $states.input.missing %}"},
             "Next": "D"}]},
          "D": {"Type": "Succeed"}}, "Choices[0]/Assign/x"),
        ({"S": {"Type": "Task", "Resource": "python:wf_tasks.raise_custom", "Catch": [
            {"ErrorEquals": ["States.Timeout"], "Next": "D"},
            {"ErrorEquals": ["States.ALL"], "Output": {"v": "{% $states.input.missing %}"},
             "Next": "D"}], "End": True},
          "D": {"Type": "Succeed"}}, "Catch[1]/Output/v"),
    ],
)  # fmt: skip
def test_the_cause_names_the_field_as_aws_does(definition: dict[str, Any], field: str) -> None:
    r = run(jsonata(definition, "S"), {})
    assert (r.error, r.cause) == (
        "States.QueryEvaluationError",
        "An error occurred while executing the state 'S' (entered at the event id #2). The JSONata "
        f"expression '$states.input.missing' specified for the field '{field}' returned nothing "
        "(undefined).",
    )


def test_an_expression_building_a_huge_value_fails_catchably() -> None:
    doubling = (
        "{% ($p := function($s, $n) { $n = 0 ? $s : $p($s & $s, $n - 1) }; $length($p('x', 31))) %}"
    )
    d = jsonata(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "E", "States": {"E": {"Type": "Pass", "Output": doubling, "End": True}}}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}],
                "End": True,
            },
            "C": {"Type": "Pass", "Output": {"caught": "{% $states.input.Error %}"}, "End": True},
        }
    )  # fmt: skip
    assert run(d, {}).output == {"caught": "States.QueryEvaluationError"}


def test_evaluation_failed_is_recorded_before_the_catch() -> None:
    d = jsonata(
        {
            "T": {
                **task("echo"),
                "Arguments": {"v": "{% $states.input.missing %}"},
                "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "C"}],
                "End": True,
            },
            "C": {"Type": "Succeed"},
        }
    )
    r = run(d, {})
    assert r.status == "SUCCEEDED"
    types = [e.type for e in r.events]
    assert types[:4] == ["ExecutionStarted", "TaskStateEntered", "EvaluationFailed",
                         "TaskStateExited"]  # fmt: skip
    assert r.output["Cause"].startswith("An error occurred while executing the state 'T'")
