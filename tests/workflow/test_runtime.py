"""Executor behaviour per feature: input/output processing, states, retry/catch, timeouts."""

from __future__ import annotations

import time

import pytest
import wf_tasks
from wf_helpers import FakeClock, one, run, task


def test_pass_result_and_parameters_with_context_input() -> None:
    r = run(
        {
            "StartAt": "A",
            "States": {
                "A": {
                    "Type": "Pass",
                    "Result": {"x": 1},
                    "ResultPath": "$.fromResult",
                    "Next": "B",
                },
                "B": {
                    "Type": "Pass",
                    "Parameters": {
                        "orig.$": "$$.Execution.Input",
                        "name.$": "$$.State.Name",
                        "const": {"nested": [1, {"v.$": "$.fromResult.x"}]},
                    },
                    "End": True,
                },
            },
        },
        {"k": "v"},
    )
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == {"orig": {"k": "v"}, "name": "B", "const": {"nested": [1, {"v": 1}]}}


def test_result_path_into_nested_new_object_and_null() -> None:
    r = run(
        one({"Type": "Pass", "Result": 42, "ResultPath": "$.a.b.c"}), {"keep": 1, "a": {"x": 0}}
    )
    assert r.output == {"keep": 1, "a": {"x": 0, "b": {"c": 42}}}
    r = run(one({"Type": "Pass", "Result": 42, "ResultPath": None}), {"keep": 1})
    assert r.output == {"keep": 1}


def test_result_path_through_a_non_object_fails_catchably() -> None:
    r = run(one({"Type": "Pass", "Result": 1, "ResultPath": "$.a.b"}), {"a": "text"})
    assert (r.status, r.error) == ("FAILED", "States.ResultPathMatchFailure")


def test_input_output_path_and_result_selector() -> None:
    r = run(
        one(
            task(
                "echo",
                InputPath="$.in",
                Parameters={"v.$": "$.val", "w": 2},
                ResultSelector={"got.$": "$.v"},
                ResultPath="$.res",
                OutputPath="$.res",
            )
        ),
        {"in": {"val": 7}},
    )
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == {"got": 7}
    r = run(one({"Type": "Pass", "InputPath": None, "OutputPath": "$"}), {"a": 1})
    assert r.output == {}


def test_missing_path_is_states_runtime_and_not_caught_by_all() -> None:
    r = run(
        {
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "Parameters": {"x.$": "$.nope"}, "Next": "B"},
                "B": {"Type": "Succeed"},
            },
        },
        {},
    )
    assert (r.status, r.error) == ("FAILED", "States.Runtime")
    assert "$.nope" in r.cause
    r = run(
        {
            "StartAt": "T",
            "States": {
                "T": task(
                    "echo",
                    InputPath="$.nope",
                    Catch=[{"ErrorEquals": ["States.ALL"], "Next": "X"}],
                    End=True,
                ),
                "X": {"Type": "Succeed"},
            },
        },
        {},
    )
    assert r.error == "States.Runtime"


def test_task_python_errors_map_to_class_names() -> None:
    assert run(one(task("raise_custom"))).error == "CustomError"
    r = run(one(task("raise_generic")))
    assert (r.error, r.cause) == ("States.TaskFailed", "generic failure")
    assert run(one(task("not_json"))).error == "States.Runtime"
    r = run(one({"Type": "Task", "Resource": "python:wf_tasks.missing"}))
    assert r.error == "States.TaskFailed" and "no function" in r.cause


def test_retry_backoff_timings_with_max_delay(clock: FakeClock) -> None:
    wf_tasks.CALLS.clear()
    retry = [
        {
            "ErrorEquals": ["CustomError"],
            "IntervalSeconds": 2,
            "BackoffRate": 2,
            "MaxDelaySeconds": 5,
            "MaxAttempts": 3,
        }
    ]
    r = run(one(task("fail_until", Retry=retry)), {"key": "backoff", "fails": 3}, clock=clock)
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == {"attempts": 4}
    assert clock.sleeps == [2, 4, 5]


def test_retry_defaults_and_exhaustion(clock: FakeClock) -> None:
    wf_tasks.CALLS.clear()
    r = run(
        one(task("fail_until", Retry=[{"ErrorEquals": ["States.ALL"]}])),
        {"key": "defaults", "fails": 10},
        clock=clock,
    )
    assert (r.status, r.error) == ("FAILED", "CustomError")
    assert clock.sleeps == [1, 2, 4]  # IntervalSeconds 1, BackoffRate 2, MaxAttempts 3
    assert wf_tasks.CALLS["defaults"] == 4


def test_retry_jitter_full_stays_below_the_delay(clock: FakeClock) -> None:
    wf_tasks.CALLS.clear()
    retry = [
        {
            "ErrorEquals": ["CustomError"],
            "IntervalSeconds": 4,
            "JitterStrategy": "FULL",
            "MaxAttempts": 2,
        }
    ]
    r = run(one(task("fail_until", Retry=retry)), {"key": "jit", "fails": 2}, clock=clock, seed=7)
    assert r.status == "SUCCEEDED"
    assert len(clock.sleeps) == 2 and 0 <= clock.sleeps[0] <= 4 and 0 <= clock.sleeps[1] <= 8
    assert clock.sleeps != [4, 8]


def test_wait_scale_scales_retry_intervals(clock: FakeClock) -> None:
    wf_tasks.CALLS.clear()
    retry = [{"ErrorEquals": ["CustomError"], "IntervalSeconds": 10, "MaxAttempts": 1}]
    run(
        one(task("fail_until", Retry=retry)),
        {"key": "scaled", "fails": 1},
        clock=clock,
        wait_scale=0.1,
    )
    assert clock.sleeps == [1.0]


def test_catch_with_result_path_error() -> None:
    r = run(
        {
            "StartAt": "T",
            "States": {
                "T": task(
                    "raise_custom",
                    Catch=[{"ErrorEquals": ["CustomError"], "ResultPath": "$.error", "Next": "H"}],
                    Next="Never",
                ),
                "H": {"Type": "Pass", "End": True},
                "Never": {"Type": "Fail", "Error": "Wrong"},
            },
        },
        {"in": 1},
    )
    assert r.status == "SUCCEEDED"
    assert r.output == {"in": 1, "error": {"Error": "CustomError", "Cause": "custom failure"}}


def test_task_failed_catches_all_but_timeout() -> None:
    r = run(
        {
            "StartAt": "T",
            "States": {
                "T": task(
                    "raise_custom",
                    Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "H"}],
                    End=True,
                ),
                "H": {"Type": "Pass", "Result": "caught", "End": True},
            },
        }
    )
    assert r.output == "caught"


def test_wait_seconds_path_timestamp(clock: FakeClock) -> None:
    start = clock.t
    r = run(
        {
            "StartAt": "A",
            "States": {
                "A": {"Type": "Wait", "Seconds": 3, "Next": "B"},
                "B": {"Type": "Wait", "SecondsPath": "$.s", "Next": "C"},
                "C": {"Type": "Wait", "TimestampPath": "$.ts", "Next": "D"},
                "D": {"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z", "End": True},
            },
        },
        {"s": 5, "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 100))},
        clock=clock,
    )
    assert r.status == "SUCCEEDED", r.cause
    assert clock.sleeps == [3, 5, 92]
    r = run(one({"Type": "Wait", "SecondsPath": "$.s"}), {"s": "x"}, clock=clock)
    assert r.error == "States.Runtime"


def test_wait_scale_scales_wait_states(clock: FakeClock) -> None:
    run(one({"Type": "Wait", "Seconds": 30}), clock=clock, wait_scale=0.01)
    assert clock.sleeps == [0.3]


def test_fail_state_error_cause_and_paths() -> None:
    r = run(
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}}},
        {"e": "Bad", "c": "why"},
    )
    assert (r.error, r.cause) == ("Bad", "why")
    r = run({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}})
    assert (r.status, r.error, r.cause) == ("FAILED", "E", "C")


def test_task_timeout_is_states_timeout_and_retriable() -> None:
    t0 = time.monotonic()
    r = run(one(task("sleep", TimeoutSeconds=1)), {"seconds": 3})
    assert (r.status, r.error) == ("FAILED", "States.Timeout")
    assert time.monotonic() - t0 < 2.5
    assert any(e.type == "TaskTimedOut" for e in r.events)
    r = run(
        {
            "StartAt": "T",
            "States": {
                "T": task(
                    "sleep",
                    TimeoutSeconds=1,
                    Catch=[{"ErrorEquals": ["States.Timeout"], "Next": "OK"}],
                    End=True,
                ),
                "OK": {"Type": "Succeed"},
            },
        },
        {"seconds": 2},
    )
    assert r.status == "SUCCEEDED"


def test_machine_timeout_times_out_the_execution(clock: FakeClock) -> None:
    r = run(
        {
            "TimeoutSeconds": 10,
            "StartAt": "W",
            "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}},
        },
        clock=clock,
    )
    assert (r.status, r.error) == ("TIMED_OUT", "States.Timeout")
    assert clock.sleeps == [10]
    assert r.events[-1].type == "ExecutionTimedOut"


def test_machine_timeout_during_a_task() -> None:
    t0 = time.monotonic()
    r = run(
        {"TimeoutSeconds": 1, "StartAt": "T", "States": {"T": task("sleep", End=True)}},
        {"seconds": 3},
    )
    assert r.status == "TIMED_OUT"
    assert time.monotonic() - t0 < 2.5


def test_parallel_outputs_in_branch_order() -> None:
    r = run(
        one(
            {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": True}}},
                    {"StartAt": "B", "States": {"B": task("add", End=True)}},
                ],
            }
        ),
        {"a": 1, "b": 2},
    )
    assert r.output == ["a", 3]


def test_parallel_fails_when_one_branch_fails_and_cancels_the_others(clock: FakeClock) -> None:
    r = run(
        one(
            {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Slow",
                        "States": {
                            "Slow": task("sleep", Next="After"),
                            "After": {"Type": "Pass", "Result": "should not run", "End": True},
                        },
                    },
                    {"StartAt": "Boom", "States": {"Boom": task("raise_custom", End=True)}},
                ],
            }
        ),
        {"seconds": 0.3},
    )
    assert (r.status, r.error) == ("FAILED", "CustomError")
    types = [e.type for e in r.events]
    assert "ParallelStateFailed" in types
    entered = [e.details.get("name") for e in r.events if e.type == "PassStateEntered"]
    assert "After" not in entered


def test_parallel_catch_and_retry_apply_to_the_state() -> None:
    r = run(
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "BranchBad"}}}
                    ],
                    "Catch": [
                        {"ErrorEquals": ["BranchBad"], "ResultPath": "$.err", "Next": "Done"}
                    ],
                    "End": True,
                },
                "Done": {"Type": "Succeed"},
            },
        },
        {},
    )
    assert r.output == {"err": {"Error": "BranchBad", "Cause": ""}}


def _map(max_concurrency: int, resource: str, **extra: object) -> dict[str, object]:
    return one(
        {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": max_concurrency,
            "ItemSelector": {
                "value.$": "$$.Map.Item.Value",
                "index.$": "$$.Map.Item.Index",
                "factor.$": "$.factor",
            },
            "ItemProcessor": {"StartAt": "I", "States": {"I": task(resource, End=True)}},
            **extra,
        }
    )


def test_map_max_concurrency_1_is_sequential_and_ordered() -> None:
    wf_tasks.ACTIVE.update(now=0, max=0)
    r = run(_map(1, "track"), {"items": ["a", "b", "c", "d"], "factor": 2})
    assert r.status == "SUCCEEDED"
    assert [o["value"] for o in r.output] == ["a", "b", "c", "d"]
    assert [o["index"] for o in r.output] == [0, 1, 2, 3]
    assert wf_tasks.ACTIVE["max"] == 1


def test_map_max_concurrency_3_runs_concurrently_keeping_order() -> None:
    wf_tasks.BARRIER.reset()
    r = run(_map(3, "barrier"), {"items": [3, 1, 2], "factor": 1})
    assert r.status == "SUCCEEDED", r.cause
    assert [o["value"] for o in r.output] == [3, 1, 2]


def test_map_legacy_iterator_and_parameters_and_unlimited() -> None:
    r = run(
        one(
            {
                "Type": "Map",
                "MaxConcurrency": 0,
                "Parameters": {"v.$": "$$.Map.Item.Value"},
                "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
            }
        ),
        [1, 2, 3],
    )
    assert r.output == [{"v": 1}, {"v": 2}, {"v": 3}]


def test_map_failure_without_tolerance_fails_the_state() -> None:
    r = run(
        one(
            {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "C",
                    "States": {
                        "C": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}],
                            "Default": "OK",
                        },
                        "F": {"Type": "Fail", "Error": "Two"},
                        "OK": {"Type": "Succeed"},
                    },
                },
            }
        ),
        [1, 2, 3],
    )
    assert (r.status, r.error) == ("FAILED", "Two")
    assert "MapIterationFailed" in [e.type for e in r.events]


@pytest.mark.parametrize(
    ("tolerance", "status"),
    [
        ({"ToleratedFailureCount": 1}, "SUCCEEDED"),
        ({"ToleratedFailurePercentage": 50}, "SUCCEEDED"),
        ({"ToleratedFailureCount": 0}, "FAILED"),
        ({"ToleratedFailurePercentage": 10}, "FAILED"),
    ],
)
def test_map_tolerated_failures(tolerance: dict[str, int], status: str) -> None:
    r = run(
        one(
            {
                "Type": "Map",
                "MaxConcurrency": 1,
                **tolerance,
                "ItemProcessor": {
                    "StartAt": "C",
                    "States": {
                        "C": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}],
                            "Default": "OK",
                        },
                        "F": {"Type": "Fail", "Error": "Two", "Cause": "item two"},
                        "OK": {"Type": "Succeed"},
                    },
                },
            }
        ),
        [1, 2, 3],
    )
    assert r.status == status
    if status == "SUCCEEDED":
        assert r.output == [1, {"Error": "Two", "Cause": "item two"}, 3]
    else:
        assert r.error == "States.ExceedToleratedFailureThreshold"


def test_map_items_path_must_be_an_array() -> None:
    r = run(
        one(
            {
                "Type": "Map",
                "ItemsPath": "$.x",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
            }
        ),
        {"x": 1},
    )
    assert r.error == "States.Runtime"


def test_context_object_fields(clock: FakeClock) -> None:
    r = run(
        one({"Type": "Pass", "Parameters": {"c.$": "$$"}}), {"i": 1}, clock=clock, name="ctxmachine"
    )
    c = r.output["c"]
    assert c["Execution"]["Input"] == {"i": 1}
    arn = "arn:aws:states:us-east-1:000000000000"
    assert c["Execution"]["Id"] == f"{arn}:execution:ctxmachine:{c['Execution']['Name']}"
    assert c["Execution"]["RoleArn"].startswith("arn:aws:iam::000000000000:role/")
    assert c["Execution"]["RedriveCount"] == 0
    assert c["Execution"]["StartTime"].endswith("Z")
    assert c["StateMachine"] == {"Id": f"{arn}:stateMachine:ctxmachine", "Name": "ctxmachine"}
    assert c["State"]["Name"] == "S" and c["State"]["RetryCount"] == 0


def test_retry_count_in_context(clock: FakeClock) -> None:
    wf_tasks.CALLS.clear()
    r = run(
        one(
            task(
                "fail_until",
                Parameters={"key": "rc", "fails": 2, "rc.$": "$$.State.RetryCount"},
                Retry=[{"ErrorEquals": ["CustomError"]}],
                ResultSelector={"rc.$": "$.attempts"},
            )
        ),
        clock=clock,
    )
    assert r.output == {"rc": 3}
    scheduled = [e.details["parameters"]["rc"] for e in r.events if e.type == "TaskScheduled"]
    assert scheduled == [0, 1, 2]


def test_parallel_branches_run_concurrently() -> None:
    wf_tasks.BARRIER.reset()
    branches = [
        {"StartAt": f"B{i}", "States": {f"B{i}": task("barrier", End=True)}} for i in range(3)
    ]
    r = run(one({"Type": "Parallel", "Branches": branches}), {"x": 1})
    assert r.status == "SUCCEEDED", r.cause
    assert r.output == [{"x": 1}] * 3


def test_failure_cancels_waits_nested_in_sibling_maps() -> None:
    waiting_map = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "End": True,
                "ItemProcessor": {
                    "StartAt": "Long",
                    "States": {"Long": {"Type": "Wait", "Seconds": 100, "End": True}},
                },
            }
        },
    }
    failing = {"StartAt": "Boom", "States": {"Boom": task("raise_custom", End=True)}}
    t0 = time.monotonic()
    r = run(
        one({"Type": "Parallel", "Branches": [waiting_map, failing]}),
        {"items": [1, 2]},
        wait_scale=0.05,
    )  # the Waits would take 5 s
    assert (r.status, r.error) == ("FAILED", "CustomError")
    assert time.monotonic() - t0 < 2
