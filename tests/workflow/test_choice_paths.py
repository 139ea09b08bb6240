"""Choice operators (and their Path variants), StringMatches, And/Or/Not; JSONPath subset."""

from __future__ import annotations

from typing import Any

import pytest
from wf_helpers import run

from trafficlake.workflow.choice import evaluate_rule, string_matches
from trafficlake.workflow.errors import StatesError
from trafficlake.workflow.paths import is_reference_path, select, set_result
from trafficlake.workflow.payload import resolve_template

D = {
    "s": "b",
    "n": 5,
    "f": 2.5,
    "t": True,
    "ts": "2026-11-21T07:00:00Z",
    "nul": None,
    "other": {"s": "b", "n": 5, "ts": "2026-11-21T08:00:00+01:00", "t": True},
}


def ok(rule: dict[str, Any]) -> bool:
    return evaluate_rule(rule, D, {})


@pytest.mark.parametrize(
    ("op", "value", "var", "expected"),
    [
        ("StringEquals", "b", "$.s", True),
        ("StringLessThan", "c", "$.s", True),
        ("StringGreaterThan", "a", "$.s", True),
        ("StringLessThanEquals", "b", "$.s", True),
        ("StringGreaterThanEquals", "c", "$.s", False),
        ("NumericEquals", 5, "$.n", True),
        ("NumericLessThan", 5, "$.n", False),
        ("NumericGreaterThan", 2, "$.f", True),
        ("NumericLessThanEquals", 5.0, "$.n", True),
        ("NumericGreaterThanEquals", 6, "$.n", False),
        ("BooleanEquals", True, "$.t", True),
        ("TimestampEquals", "2026-11-21T08:00:00+01:00", "$.ts", True),
        ("TimestampLessThan", "2026-11-21T07:00:01Z", "$.ts", True),
        ("TimestampGreaterThan", "2026-11-21T07:00:01Z", "$.ts", False),
        ("TimestampLessThanEquals", "2026-11-21T07:00:00Z", "$.ts", True),
        ("TimestampGreaterThanEquals", "2026-11-22T00:00:00Z", "$.ts", False),
        ("NumericEquals", 5, "$.s", False),  # wrong type never matches
    ],
)
def test_comparisons_and_path_variants(op: str, value: Any, var: str, expected: bool) -> None:
    assert ok({"Variable": var, op: value}) is expected


@pytest.mark.parametrize(
    ("op", "var", "other", "expected"),
    [
        ("StringEqualsPath", "$.s", "$.other.s", True),
        ("NumericEqualsPath", "$.n", "$.other.n", True),
        ("NumericLessThanPath", "$.f", "$.other.n", True),
        ("BooleanEqualsPath", "$.t", "$.other.t", True),
        ("TimestampEqualsPath", "$.ts", "$.other.ts", True),
        ("TimestampLessThanPath", "$.ts", "$.other.ts", False),
        ("StringGreaterThanEqualsPath", "$.s", "$.other.s", True),
    ],
)
def test_path_variants(op: str, var: str, other: str, expected: bool) -> None:
    assert ok({"Variable": var, op: other}) is expected


def test_type_tests() -> None:
    assert ok({"Variable": "$.missing", "IsPresent": False})
    assert ok({"Variable": "$.nul", "IsPresent": True})
    assert ok({"Variable": "$.nul", "IsNull": True})
    assert ok({"Variable": "$.n", "IsNumeric": True})
    assert ok({"Variable": "$.t", "IsNumeric": False})
    assert ok({"Variable": "$.s", "IsString": True})
    assert ok({"Variable": "$.t", "IsBoolean": True})
    assert ok({"Variable": "$.ts", "IsTimestamp": True})
    assert ok({"Variable": "$.s", "IsTimestamp": False})


def test_string_matches_with_wildcards_and_escapes() -> None:
    assert string_matches("log-2026.txt", "log-*.txt")
    assert string_matches("a*b", r"a\*b")
    assert not string_matches("axb", r"a\*b")
    assert string_matches("back\\slash", "back\\\\slash")
    assert not string_matches("x.txt", "*.csv")
    assert ok({"Variable": "$.s", "StringMatches": "*"})


def test_and_or_not() -> None:
    assert ok(
        {"And": [{"Variable": "$.s", "StringEquals": "b"}, {"Variable": "$.n", "NumericEquals": 5}]}
    )
    assert not ok(
        {"And": [{"Variable": "$.s", "StringEquals": "b"}, {"Variable": "$.n", "NumericEquals": 6}]}
    )
    assert ok(
        {"Or": [{"Variable": "$.s", "StringEquals": "x"}, {"Variable": "$.n", "NumericEquals": 5}]}
    )
    assert ok({"Not": {"Variable": "$.s", "StringEquals": "x"}})


def test_missing_variable_is_states_runtime() -> None:
    with pytest.raises(StatesError) as e:
        ok({"Variable": "$.missing", "StringEquals": "x"})
    assert e.value.error == "States.Runtime"
    r = run(
        {
            "StartAt": "C",
            "States": {
                "C": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.nope", "StringEquals": "x", "Next": "A"}],
                    "Default": "A",
                },
                "A": {"Type": "Succeed"},
            },
        },
        {},
    )
    assert (r.status, r.error) == ("FAILED", "States.Runtime")


def test_choice_default_and_no_match() -> None:
    machine = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThan": 3, "Next": "Big"}],
            },
            "Big": {"Type": "Pass", "Result": "big", "End": True},
        },
    }
    assert run(machine, {"n": 4}).output == "big"
    r = run(machine, {"n": 1})
    assert (r.status, r.error) == ("FAILED", "States.Runtime")  # AWS, not States.NoChoiceMatched
    machine["States"]["C"]["Default"] = "Small"
    machine["States"]["Small"] = {"Type": "Pass", "Result": "small", "End": True}
    assert run(machine, {"n": 1}).output == "small"


# ---- paths ------------------------------------------------------------------------------------


def test_select_subset() -> None:
    data = {"a": {"b": [1, 2, 3]}, "k e y": {"x": 1}, "l": [{"v": 1}, {"v": 2}]}
    assert select("$", data) is data
    assert select("$.a.b[1]", data) == 2
    assert select("$.a.b[-1]", data) == 3
    assert select("$['k e y'].x", data) == 1
    assert select("$.l[*].v", data) == [1, 2]
    assert select("$..v", data) == [1, 2]
    assert select("$.a.b[0:2]", data) == [1, 2]
    assert select("$.a.b[0,2]", data) == [1, 3]
    assert select("$.a.*", data) == [[1, 2, 3]]
    assert select("$$.Execution.Id", data, {"Execution": {"Id": "x"}}) == "x"
    with pytest.raises(StatesError):
        select("$.a.c", data)


def test_reference_paths() -> None:
    assert is_reference_path("$.a['b'][0]")
    assert not is_reference_path("$.a[*]")
    assert not is_reference_path("$..a")
    assert not is_reference_path("a.b")


def test_set_result_cases() -> None:
    assert set_result("$", {"a": 1}, 5) == 5
    assert set_result(None, {"a": 1}, 5) == {"a": 1}
    src = {"a": {"b": 1}}
    assert set_result("$.a.c.d", src, 5) == {"a": {"b": 1, "c": {"d": 5}}}
    assert src == {"a": {"b": 1}}  # input untouched
    assert set_result("$.l[1]", {"l": [0, 0]}, 5) == {"l": [0, 5]}
    for bad_path, data in (("$.a.b", {"a": 3}), ("$.l[5]", {"l": []}), ("$.x", [1])):
        with pytest.raises(StatesError) as e:
            set_result(bad_path, data, 1)
        assert e.value.error == "States.ResultPathMatchFailure"


def test_payload_template_nesting() -> None:
    t = {"a.$": "$.x", "list": [{"b.$": "$.y"}, "plain"], "obj": {"c": 1, "d.$": "$$.K"}}
    assert resolve_template(t, {"x": 1, "y": 2}, {"K": "ctx"}) == {
        "a": 1,
        "list": [{"b": 2}, "plain"],
        "obj": {"c": 1, "d": "ctx"},
    }
