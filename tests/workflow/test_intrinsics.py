"""Intrinsic functions: parser edge cases and every function."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

import pytest
from wf_helpers import one, run

from trafficlake.workflow.errors import StatesError
from trafficlake.workflow.intrinsics import evaluate_intrinsic

DATA = {"name": "Gent", "n": 3, "arr": [1, 2, 2, 3], "obj": {"a": 1}, "s": "a,b;;c", "t": True}
CTX = {"Execution": {"Name": "exec-1"}}


def ev(text: str, data: Any = None) -> Any:
    return evaluate_intrinsic(text, DATA if data is None else data, CTX)


def test_format_with_paths_literals_and_escapes() -> None:
    assert (
        ev("States.Format('Hello {} from {}', $.name, $$.Execution.Name)")
        == "Hello Gent from exec-1"
    )
    assert ev(r"States.Format('it\'s \{literal\} {}', $.n)") == "it's {literal} 3"
    assert ev("States.Format('{} {} {}', true, null, 1.5)") == "true null 1.5"
    assert ev("States.Format('a,b)c {}', 'x, y')") == "a,b)c x, y"


def test_format_argument_count_must_match() -> None:
    with pytest.raises(StatesError) as e:
        ev("States.Format('{} and {}', $.name)")
    assert e.value.error == "States.IntrinsicFailure"
    with pytest.raises(StatesError):
        ev("States.Format('{}', 'a', 'b')")
    with pytest.raises(StatesError):
        ev("States.Format('{}', $.obj)")


def test_nested_calls() -> None:
    assert ev("States.ArrayLength(States.ArrayUnique($.arr))") == 3
    assert (
        ev("States.Format('{}', States.JsonToString(States.Array(1, 'two', $.t)))")
        == '[1,"two",true]'
    )
    assert ev("States.StringToJson(States.JsonToString($.obj))") == {"a": 1}


def test_array_functions() -> None:
    assert ev("States.Array()") == []
    assert ev("States.ArrayPartition(States.ArrayRange(1, 7, 1), 3)") == [[1, 2, 3], [4, 5, 6], [7]]
    assert ev("States.ArrayPartition($.arr, 3)") == [[1, 2, 2], [3]]
    assert ev("States.ArrayContains($.arr, 3)") is True
    assert ev("States.ArrayContains($.arr, 9)") is False
    assert ev("States.ArrayRange(0, 10, 5)") == [0, 5, 10]
    assert ev("States.ArrayRange(5, 1, -2)") == [5, 3, 1]
    assert ev("States.ArrayGetItem($.arr, 3)") == 3
    assert ev("States.ArrayUnique($.arr)") == [1, 2, 3]
    for bad in (
        "States.ArrayPartition($.arr, 0)",
        "States.ArrayGetItem($.arr, 9)",
        "States.ArrayRange(1, 2000, 1)",
        "States.ArrayLength($.name)",
    ):
        with pytest.raises(StatesError) as e:
            ev(bad)
        assert e.value.error == "States.IntrinsicFailure", bad


def test_base64_and_hash_against_hashlib() -> None:
    assert ev("States.Base64Encode('Gent é')") == base64.b64encode("Gent é".encode()).decode()
    assert ev("States.Base64Decode(States.Base64Encode($.name))") == "Gent"
    for alg, lib in (
        ("MD5", "md5"),
        ("SHA-1", "sha1"),
        ("SHA-256", "sha256"),
        ("SHA-384", "sha384"),
        ("SHA-512", "sha512"),
    ):
        assert ev(f"States.Hash($.name, '{alg}')") == hashlib.new(lib, b"Gent").hexdigest()
    with pytest.raises(StatesError):
        ev("States.Hash($.name, 'SHA-3')")
    with pytest.raises(StatesError):
        ev("States.Base64Decode('***')")


def test_json_merge_math_split_uuid() -> None:
    assert ev('States.JsonMerge($.obj, States.StringToJson(\'{"b": 2, "a": 9}\'), false)') == {
        "a": 9,
        "b": 2,
    }
    with pytest.raises(StatesError):
        ev("States.JsonMerge($.obj, $.obj, true)")
    assert ev("States.MathAdd($.n, -5)") == -2
    a = ev("States.MathRandom(1, 1000, 42)")
    assert a == ev("States.MathRandom(1, 1000, 42)") and 1 <= a < 1000
    assert all(0 <= ev("States.MathRandom(0, 3)") < 3 for _ in range(20))
    assert ev("States.StringSplit($.s, ',;')") == ["a", "b", "c"]
    assert uuid.UUID(ev("States.UUID()")).version == 4


@pytest.mark.parametrize(
    "bad",
    [
        "States.Nope(1)",
        "States.Format('x'",
        "States.Format('unterminated)",
        "Format('x')",
        "States.ArrayLength($.arr) extra",
        "States.MathAdd(1 2)",
    ],
)
def test_parse_errors_are_intrinsic_failures(bad: str) -> None:
    with pytest.raises(StatesError) as e:
        ev(bad)
    assert e.value.error == "States.IntrinsicFailure"


def test_paths_with_brackets_as_arguments() -> None:
    data = {"a b": [10, 20], "x": {"y,z": "q"}}
    assert ev("States.ArrayGetItem($['a b'], 1)", data) == 20
    assert ev("States.Format('{}', $.x['y,z'])", data) == "q"


def test_intrinsic_in_a_state_and_failure_is_catchable() -> None:
    r = run(one({"Type": "Pass", "Parameters": {"id.$": "States.Format('run-{}', $.n)"}}), {"n": 1})
    assert r.output == {"id": "run-1"}
    r = run(
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Task",
                    "Resource": "python:wf_tasks.echo",
                    "Parameters": {"x.$": "States.ArrayGetItem($.a, 5)"},
                    "Catch": [{"ErrorEquals": ["States.IntrinsicFailure"], "Next": "C"}],
                    "End": True,
                },
                "C": {"Type": "Pass", "End": True},
            },
        },
        {"a": [1]},
    )
    assert r.status == "SUCCEEDED"
    assert r.output["Error"] == "States.IntrinsicFailure"
    assert json.dumps(r.output)
