"""History event sequences and executions persisted in a real SQLite catalog."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from wf_helpers import FakeClock, run, task

from trafficlake.catalog import open_catalog
from trafficlake.catalog.base import Execution
from trafficlake.config import Settings
from trafficlake.workflow import Executor, from_dict
from trafficlake.workflow.history import mark_abandoned
from trafficlake.workflow.library import get_history, list_executions, run_workflow

SMALL = {
    "StartAt": "T",
    "States": {
        "T": task("add", ResultPath="$.sum", Next="W"),
        "W": {"Type": "Wait", "Seconds": 1, "Next": "C"},
        "C": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.sum", "NumericEquals": 3, "Next": "OK"}],
            "Default": "Bad",
        },
        "OK": {"Type": "Succeed"},
        "Bad": {"Type": "Fail", "Error": "Bad"},
    },
}


def test_event_sequence_of_a_small_machine(clock: FakeClock) -> None:
    r = run(SMALL, {"a": 1, "b": 2}, clock=clock)
    assert r.status == "SUCCEEDED"
    assert [e.type for e in r.events] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "WaitStateEntered",
        "WaitStateExited",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]
    assert [e.id for e in r.events] == list(range(1, 14))
    assert [e.previous_event_id for e in r.events] == list(range(0, 13))
    assert r.events[4].details["output"] == 3
    assert r.events[-1].details["output"] == {"a": 1, "b": 2, "sum": 3}
    assert r.events[7].timestamp - r.events[6].timestamp == 1


def test_failed_sequence_ends_with_fail_state(clock: FakeClock) -> None:
    r = run(SMALL, {"a": 1, "b": 1}, clock=clock)
    types = [e.type for e in r.events]
    assert types[-2:] == ["FailStateEntered", "ExecutionFailed"]
    assert r.events[-1].details == {"error": "Bad"}


def test_execution_persisted_in_sqlite(settings: Settings) -> None:
    with open_catalog(settings) as catalog:
        r = Executor(
            from_dict(SMALL, "small"), settings=settings, catalog=catalog, clock=FakeClock()
        ).run({"a": 1, "b": 2}, name="one")
    assert r.id == "small:one"
    with open_catalog(settings) as catalog:
        ex = catalog.get_execution("small:one")
        assert (ex.status, ex.output, ex.input) == (
            "SUCCEEDED",
            {"a": 1, "b": 2, "sum": 3},
            {"a": 1, "b": 2},
        )
        assert ex.owner == f"{socket.gethostname()}:{os.getpid()}"
        history = catalog.get_history("small:one")
    assert [h.type for h in history] == [e.type for e in r.events]
    assert history[4].details["output"] == 3


def test_run_workflow_by_path_and_listing(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "small.asl.json"
    path.write_text(json.dumps(SMALL))
    r = run_workflow(settings, str(path), {"a": 2, "b": 2}, execution_name="x1")
    assert (r.status, r.error) == ("FAILED", "Bad")
    rows = list_executions(settings)
    assert [(e.id, e.status, e.error) for e in rows] == [("small:x1", "FAILED", "Bad")]
    ex, events = get_history(settings, "x1")
    assert ex.id == "small:x1" and events[-1].type == "ExecutionFailed"


def test_run_killed_with_its_process_is_marked_aborted(settings: Settings) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    with open_catalog(settings) as catalog:
        catalog.create_execution(
            Execution(
                id="m:killed",
                state_machine="m",
                name="killed",
                input={},
                started_at=1.0,
                owner=f"{socket.gethostname()}:{pid}",
            )
        )
        catalog.create_execution(
            Execution(
                id="m:alive",
                state_machine="m",
                name="alive",
                input={},
                started_at=2.0,
                owner=f"{socket.gethostname()}:{os.getpid()}",
            )
        )
        catalog.create_execution(
            Execution(
                id="m:remote",
                state_machine="m",
                name="remote",
                input={},
                started_at=3.0,
                owner="other-host:1",
            )
        )
    rows = {e.id: e.status for e in list_executions(settings)}
    assert rows == {"m:killed": "ABORTED", "m:alive": "RUNNING", "m:remote": "RUNNING"}
    with open_catalog(settings) as catalog:
        assert catalog.get_history("m:killed")[-1].type == "ExecutionAborted"
        assert mark_abandoned(catalog) == []
