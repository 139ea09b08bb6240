"""JSONPath states as AWS Step Functions runs them: cases from the developer guide's worked
examples (intrinsic functions, paths, error handling) and AWS's documented edge behaviour."""

from __future__ import annotations

from typing import Any

import pytest
from wf_helpers import FakeClock, one, run, task

from trafficlake.workflow.validation import validate


def pass_params(params: dict[str, Any]) -> dict[str, Any]:
    return one({"Type": "Pass", "Parameters": params})


# ---- intrinsic functions: the developer guide's examples (input -> documented result) -------

NINE = [1, 2, 3, 4, 5, 6, 7, 8, 9]
INTRINSIC_EXAMPLES = [
    ("States.Array($.Id)", {"Id": 123456}, [123456]),
    ("States.ArrayPartition($.inputArray, 4)", {"inputArray": NINE}, [[1, 2, 3, 4], [5, 6, 7, 8], [9]]),
    ("States.ArrayContains($.inputArray, $.lookingFor)", {"inputArray": NINE, "lookingFor": 5}, True),
    ("States.ArrayRange(1, 9, 2)", {}, [1, 3, 5, 7, 9]),
    ("States.ArrayGetItem($.inputArray, $.index)", {"inputArray": NINE, "index": 5}, 6),
    ("States.ArrayLength($.inputArray)", {"inputArray": NINE}, 9),
    ("States.ArrayUnique($.inputArray)", {"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]}, [1, 2, 3, 4]),
    ("States.Base64Encode($.input)", {"input": "Data to encode"}, "RGF0YSB0byBlbmNvZGU="),
    ("States.Base64Decode($.base64)", {"base64": "RGF0YSB0byBlbmNvZGU="}, "Data to encode"),
    (
        "States.Hash($.Data, $.Algorithm)",
        {"Data": "input data", "Algorithm": "SHA-1"},
        "aaff4a450a104cd177d28d18d74485e8cae074b7",
    ),
    (
        "States.JsonMerge($.json1, $.json2, false)",
        {"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}},
        {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3},
    ),
    ("States.StringToJson($.escapedJsonString)", {"escapedJsonString": '{"foo": "bar"}'}, {"foo": "bar"}),
    ("States.JsonToString($.unescapedJson)", {"unescapedJson": {"foo": "bar"}}, '{"foo":"bar"}'),
    ("States.MathAdd($.value1, $.step)", {"value1": 111, "step": -1}, 110),
    ("States.MathAdd($.a, $.b)", {"a": 1.49, "b": 1.5}, 3),
    (
        "States.StringSplit($.inputString, $.splitter)",
        {"inputString": "1,2,3,4,5", "splitter": ","},
        ["1", "2", "3", "4", "5"],
    ),
    (
        "States.StringSplit($.inputString, $.splitter)",
        {"inputString": "This.is+a,test=string", "splitter": ".+,="},
        ["This", "is", "a", "test", "string"],
    ),
    ("States.Format('Hello, my name is {}.', $.name)", {"name": "Arnav"}, "Hello, my name is Arnav."),
    ("States.Format('{} \\{literal\\} it\\'s', $.n)", {"n": 3}, "3 {literal} it's"),
    # a seed gives java.util.Random's sequence: new Random(42).nextInt(10) == 0
    ("States.MathRandom(5, 15, 42)", {}, 5),
    ("States.MathRandom(0, 100, 0)", {}, 60),
]  # fmt: skip


@pytest.mark.parametrize(("expr", "data", "expected"), INTRINSIC_EXAMPLES)
def test_intrinsic_documented_examples(expr: str, data: Any, expected: Any) -> None:
    r = run(pass_params({"r.$": expr}), data)
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == {"r": expected}


def test_format_with_context_paths_and_execution_arn() -> None:
    r = run(
        pass_params({"r.$": "States.Format('{}/{}', $$.StateMachine.Name, $$.State.Name)"}),
        name="formatter",
    )
    assert r.output == {"r": "formatter/S"}


@pytest.mark.parametrize(
    ("expr", "data"),
    [
        ("States.StringToJson($.s)", {"s": "{not json"}),
        ("States.StringToJson($.s)", {"s": "NaN"}),
        ("States.ArrayGetItem($.a, 5)", {"a": [1]}),
        ("States.MathAdd($.a, 1)", {"a": "x"}),
        ("States.MathAdd($.a, 1)", {"a": 2147483647}),
    ],
)
def test_intrinsic_failures_are_intrinsic_failure(expr: str, data: Any) -> None:
    r = run(pass_params({"r.$": expr}), data)
    assert (r.status, r.error) == ("FAILED", "States.IntrinsicFailure")


# ---- JSONPath filter expressions (Jayway semantics, as AWS) ---------------------------------

USERS = {
    "users": [
        {"name": "ann", "status": 0, "age": 31, "tags": ["a"]},
        {"name": "bob", "status": 1, "age": 17},
        {"name": "cid", "status": 0, "age": 45, "nick": None},
    ],
    "limit": 40,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.users[?(@.status == 0)].name", ["ann", "cid"]),
        ("$.users[?(@.status != 0)].name", ["bob"]),
        ("$.users[?(@.age >= 31 && @.age < 45)].name", ["ann"]),
        ("$.users[?(@.age < 18 || @.age > 40)].name", ["bob", "cid"]),
        ("$.users[?(@.age > $.limit)].name", ["cid"]),
        ("$.users[?(@.name == 'bob')].age", [17]),
        ("$.users[?(@.name =~ /^[ab].*/)].name", ["ann", "bob"]),
        ("$.users[?(@.tags)].name", ["ann"]),
        ("$.users[?(@.nick)].name", ["cid"]),
        ("$.users[?(!(@.status == 0))].name", ["bob"]),
        ("$.users[?(@.name in ['ann', 'cid'])].age", [31, 45]),
        ("$.users[?(@.status == '0')].name", []),
        ("$..users[?(@.age > 100)]", []),
    ],
)
def test_filter_expressions(path: str, expected: Any) -> None:
    r = run(pass_params({"r.$": path}), USERS)
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == {"r": expected}


# ---- context object ---------------------------------------------------------------------------


def test_context_object_arns() -> None:
    r = run(pass_params({"c.$": "$$"}), name="sm")
    c = r.output["c"]
    name = c["Execution"]["Name"]
    assert c["Execution"]["Id"] == f"arn:aws:states:us-east-1:000000000000:execution:sm:{name}"
    assert c["StateMachine"]["Id"] == "arn:aws:states:us-east-1:000000000000:stateMachine:sm"
    assert c["Execution"]["RedriveCount"] == 0
    assert set(c["State"]) == {"EnteredTime", "Name", "RetryCount"}


# ---- errors AWS never catches, payload limits --------------------------------------------


def test_output_path_matching_nothing_fails_the_execution_even_with_a_runtime_catch() -> None:
    d = {
        "StartAt": "T",
        "States": {
            "T": {
                **task("echo", OutputPath="$.missing"),
                "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "Caught"}],
                "Retry": [{"ErrorEquals": ["States.Runtime"], "MaxAttempts": 2}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    r = run(d, {"a": 1})
    assert (r.status, r.error) == ("FAILED", "States.Runtime")
    assert r.cause == (
        "An error occurred while executing the state 'T' (entered at the event id #2). "
        "Invalid path '$.missing' : No results for path: $['missing']"
    )
    assert "TaskStateExited" not in [e.type for e in r.events]


def test_data_limit_exceeded_is_not_caught_by_states_all_but_by_name() -> None:
    doubled = {"a.$": "$.s", "b.$": "$.s"}  # 2 x 130 KiB after Parameters
    states_all = {
        "StartAt": "T",
        "States": {
            "T": {
                **task("echo", Parameters=doubled),
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}],
                "End": True,
            },
            "C": {"Type": "Succeed"},
        },
    }  # fmt: skip
    big = {"s": "x" * (130 * 1024)}
    r = run(states_all, big)
    assert (r.status, r.error) == ("FAILED", "States.DataLimitExceeded")
    assert r.cause == (
        "The state 'T' has an input (after Parameters) with a size exceeding the maximum number "
        "of bytes service limit."
    )
    states_all["States"]["T"]["Catch"][0]["ErrorEquals"] = ["States.DataLimitExceeded"]
    assert validate(states_all) == []
    r = run(states_all, big)
    assert r.status == "SUCCEEDED"
    assert r.output["Error"] == "States.DataLimitExceeded"


def test_state_output_over_256_kib_fails() -> None:
    r = run(pass_params({"a.$": "$.s", "b.$": "$.s"}), {"s": "y" * (130 * 1024)})
    assert (r.status, r.error) == ("FAILED", "States.DataLimitExceeded")


def test_empty_fail_state_has_no_error_name() -> None:
    r = run({"StartAt": "F", "States": {"F": {"Type": "Fail"}}})
    assert (r.status, r.error, r.cause) == ("FAILED", None, None)
    assert [e.type for e in r.events] == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]


def test_fail_error_and_cause_paths_accept_intrinsics() -> None:
    d = {
        "StartAt": "F",
        "States": {
            "F": {
                "Type": "Fail",
                "ErrorPath": "States.Format('{}Error', $.kind)",
                "CausePath": "$.why",
            }
        },
    }
    assert validate(d) == []
    r = run(d, {"kind": "Disk", "why": "full"})
    assert (r.error, r.cause) == ("DiskError", "full")


# ---- Wait limits --------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [1.5, -1, "10", True, 100000000])
def test_seconds_path_must_be_a_whole_number_in_range(seconds: Any) -> None:
    d = {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}
    r = run(d, {"s": seconds}, clock=FakeClock())
    assert (r.status, r.error) == ("FAILED", "States.Runtime")
    assert "SecondsPath" in (r.cause or "")


def test_timestamp_more_than_a_year_away_fails(clock: FakeClock) -> None:
    d = {"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.t", "End": True}}}
    r = run(d, {"t": "2099-01-01T00:00:00Z"}, clock=clock)
    assert (r.status, r.error) == ("FAILED", "States.Runtime")
    r = run(d, {"t": "2026-09-15T10:00:00Z"}, clock=clock)
    assert r.status == "SUCCEEDED"


# ---- Map settings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MaxConcurrencyPath", -1),
        ("MaxConcurrencyPath", 1.5),
        ("MaxConcurrencyPath", "2"),
        ("ToleratedFailureCountPath", -3),
        ("ToleratedFailurePercentagePath", 101),
    ],
)
def test_map_setting_paths_with_bad_values_fail(key: str, value: Any) -> None:
    d = one(
        {
            "Type": "Map",
            "ItemsPath": "$.items",
            key: "$.v",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        }
    )
    r = run(d, {"items": [1, 2], "v": value})
    assert (r.status, r.error) == ("FAILED", "States.Runtime")
    assert key in (r.cause or "")


def test_map_iteration_events() -> None:
    d = one(
        {
            "Type": "Map",
            "MaxConcurrency": 1,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        }
    )
    r = run(d, [7, 8])
    assert r.output == [7, 8]
    assert [e.type for e in r.events] == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]


# ---- variables in JSONPath states ----------------------------------------------------------


def test_jsonpath_assign_and_variable_references() -> None:
    d = {
        "StartAt": "A",
        "States": {
            "A": {
                **task("echo"),
                "ResultSelector": {"price.$": "$.p"},
                "Assign": {"price.$": "$.price", "first.$": "$$.State.Name", "n": 2},
                "ResultPath": "$.r",
                "Next": "C",
            },
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$price", "NumericGreaterThan": 10, "Next": "Big"}],
                "Default": "Small",
            },
            "Big": {
                "Type": "Pass",
                "Parameters": {"p.$": "$price", "f.$": "$first", "t.$": "States.MathAdd($n, 1)"},
                "End": True,
            },
            "Small": {"Type": "Succeed"},
        },
    }
    assert validate(d) == []
    r = run(d, {"p": 12})
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == {"p": 12, "f": "A", "t": 3}


# ---- the validator: inside payload templates, and what AWS accepts ----------------------


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"a.$": "States.Nope($.x)"}, "unknown intrinsic function 'States.Nope'"),
        ({"a.$": "States.Format('\\n', $.x)"}, "illegal escape"),
        ({"a": 1, "a.$": "$.x"}, "fields 'a' and 'a.$' collide"),
        ({"deep": [{"b.$": "$.["}]}, "Parameters.deep[0].b.$"),
        ({"a.$": "States.MathAdd(1)"}, "takes 2 argument(s)"),
        ({"a.$": 5}, "must be a path or an intrinsic function"),
    ],
)
def test_validator_looks_inside_payload_templates(params: dict[str, Any], needle: str) -> None:
    found = validate(pass_params(params))
    assert any(needle in p and "state 'S'" in p for p in found), found


def test_validator_accepts_what_aws_accepts() -> None:
    d = {
        "QueryLanguage": "JSONPath",
        "StartAt": "T",
        "States": {
            "T": {
                **task("echo"),
                "QueryLanguage": "JSONPath",
                "Retry": [{"ErrorEquals": ["States.DataLimitExceeded"]}],
                "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "F"}],
                "Next": "F",
            },
            "F": {"Type": "Fail", "ErrorPath": "States.Format('E{}', $.x)"},
        },
    }
    assert validate(d) == []


@pytest.mark.parametrize("label", ["", "a b", "x" * 41, "a/b", "a$b", "a{b"])
def test_map_label_validation(label: str) -> None:
    d = one(
        {
            "Type": "Map",
            "Label": label,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P",
                "States": {"P": {"Type": "Pass", "End": True}},
            },
        }
    )
    assert any("field 'Label'" in p for p in validate(d))


def test_aws_causes_for_no_next_state_and_result_path() -> None:
    d = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "D"}],
            },
            "D": {"Type": "Succeed"},
        },
    }
    r = run(d, {"n": 2})
    assert (r.error, r.cause) == (
        "States.Runtime",
        "An error occurred while executing the state 'C' (entered at the event id #2). Failed to "
        "transition out of the state. The state does not point to a next state.",
    )
    r = run(one({"Type": "Pass", "Result": 1, "ResultPath": "$.a.b"}), {"a": "text"})
    assert (r.error, r.cause) == (
        "States.ResultPathMatchFailure",
        'Unable to apply ReferencePath $.a.b to input {"a":"text"}',
    )


def test_history_of_failures_inside_branches() -> None:
    """A Task that ends its branch records TaskStateAborted; a States.Runtime failure records
    no ParallelStateFailed/MapStateFailed (as AWS)."""
    branch = {"StartAt": "T", "States": {"T": {**task("raise_custom"), "End": True}}}
    d = one({"Type": "Parallel", "Branches": [branch]})
    types = [e.type for e in run(d, {}).events]
    assert types[-4:] == [
        "TaskFailed",
        "TaskStateAborted",
        "ParallelStateFailed",
        "ExecutionFailed",
    ]
    missing = {"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.x", "End": True}}}
    d = one({"Type": "Map", "ItemProcessor": missing})
    r = run(d, [1])
    assert r.error == "States.Runtime"
    assert "MapStateFailed" not in [e.type for e in r.events]
