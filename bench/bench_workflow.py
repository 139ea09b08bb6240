"""State machine runtime speed: a 10,000-item inline Map of Pass states and a 1,000-iteration
Choice/Pass loop, each targeted at <= 2 s wall clock, plus the same in JSONata.

(The Map's output stays under AWS's 256 KiB state-output quota, which the runtime enforces.)
Baseline in the same run: a plain Python loop doing the same JSON work (the Pass state's
Parameters template per item; the loop's counter update and comparison), so the ratio shows
what the interpreter (history events, context object, payload checks, threads) costs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from trafficlake.workflow import Executor, from_dict

TARGET_S = 2.0

MAP = {
    "StartAt": "M",
    "States": {
        "M": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "StartAt": "P",
                "States": {
                    "P": {
                        "Type": "Pass",
                        "Parameters": {"d.$": "States.MathAdd($.id, $.id)"},
                        "End": True,
                    }
                },
            },
            "End": True,
        }
    },
}

LOOP = {
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Result": {"i": 0}, "Next": "Check"},
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.i", "NumericLessThan": 1000, "Next": "Step"}],
            "Default": "Done",
        },
        "Step": {
            "Type": "Pass",
            "Parameters": {"i.$": "States.MathAdd($.i, 1)"},
            "Next": "Check",
        },
        "Done": {"Type": "Succeed"},
    },
}

LOOP_JSONATA = {
    "QueryLanguage": "JSONata",
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Assign": {"i": 0}, "Next": "Check"},
        "Check": {
            "Type": "Choice",
            "Choices": [{"Condition": "{% $i < 1000 %}", "Next": "Step"}],
            "Default": "Done",
        },
        "Step": {"Type": "Pass", "Assign": {"i": "{% $i + 1 %}"}, "Next": "Check"},
        "Done": {"Type": "Succeed", "Output": {"i": "{% $i %}"}},
    },
}


def _baseline_map(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"d": it["id"] + it["id"]} for it in items]


def _baseline_loop() -> dict[str, Any]:
    data: dict[str, Any] = {"i": 0}
    while data["i"] < 1000:
        data = {"i": data["i"] + 1}
    return data


def _median_s(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _machine(definition: dict[str, Any], name: str) -> Callable[[Any], Any]:
    machine = from_dict(definition, name)

    def go(data: Any) -> Any:
        r = Executor(machine).run(data)
        if r.status != "SUCCEEDED":
            raise RuntimeError(f"{name}: {r.error}: {r.cause}")
        return r.output

    return go


def run(quick: bool) -> list[dict[str, object]]:
    repeat = 1 if quick else 3
    items = [{"id": i} for i in range(10_000)]
    run_map = _machine(MAP, "map10k")
    run_loop = _machine(LOOP, "loop1k")
    run_jsonata = _machine(LOOP_JSONATA, "loop1k_jsonata")
    assert run_map({"items": items[:3]}) == _baseline_map(items[:3])
    assert run_loop({}) == _baseline_loop()
    assert run_jsonata({}) == {"i": 1000}
    base_map = _median_s(lambda: _baseline_map(items), 5)
    base_loop = _median_s(_baseline_loop, 5)
    t_map = _median_s(lambda: run_map({"items": items}), repeat)
    t_loop = _median_s(lambda: run_loop({}), repeat)
    t_jsonata = _median_s(lambda: run_jsonata({}), repeat)
    return [
        {
            "name": "inline Map, 10,000 Pass items",
            "value": t_map,
            "unit": "s",
            "ratio": t_map / base_map,
            "target": f"<= {TARGET_S} s",
            "ok": t_map <= TARGET_S,
        },
        {
            "name": "Choice/Pass loop, 1,000 iterations (JSONPath)",
            "value": t_loop,
            "unit": "s",
            "ratio": t_loop / base_loop,
            "target": f"<= {TARGET_S} s",
            "ok": t_loop <= TARGET_S,
        },
        {
            "name": "Choice/Pass loop, 1,000 iterations (JSONata)",
            "value": t_jsonata,
            "unit": "s",
            "ratio": t_jsonata / base_loop,
            "target": f"<= {TARGET_S} s",
            "ok": t_jsonata <= TARGET_S,
        },
    ]
