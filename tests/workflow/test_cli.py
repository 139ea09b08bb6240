"""The workflow and schedule commands, run as the real `trafficlake` program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import CliResult, run_cli

HERE = Path(__file__).parent


def tl(cwd: Path, *args: str) -> CliResult:
    # wf_tasks (the test task module) is importable: the area's conftest puts HERE on sys.path
    return run_cli(*args, cwd=cwd, env={"TRAFFICLAKE_WORKFLOW__WAIT_SCALE": "0.01"})


@pytest.fixture
def machine(tmp_path: Path) -> Path:
    path = tmp_path / "adder.asl.json"
    path.write_text(
        json.dumps(
            {
                "StartAt": "Add",
                "States": {
                    "Add": {
                        "Type": "Task",
                        "Resource": "python:wf_tasks.add",
                        "ResultPath": "$.sum",
                        "Next": "Wait",
                    },
                    "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Check"},
                    "Check": {
                        "Type": "Choice",
                        "Default": "Odd",
                        "Choices": [{"Variable": "$.sum", "NumericEquals": 4, "Next": "Done"}],
                    },
                    "Odd": {"Type": "Fail", "Error": "NotFour", "Cause": "the sum is not 4"},
                    "Done": {"Type": "Succeed"},
                },
            }
        )
    )
    return path


def test_run_executions_history(tmp_path: Path, machine: Path) -> None:
    r = tl(
        tmp_path, "workflow", "run", machine.name, "--input", '{"a": 1, "b": 3}', "--name", "ok1"
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # each line: date, time, zone, event type, ...
    assert [ln.split()[3] for ln in lines[:4]] == [
        "TaskStateEntered",
        "WaitStateEntered",
        "ChoiceStateEntered",
        "SucceedStateEntered",
    ]
    assert "execution adder:ok1: SUCCEEDED" in r.stdout
    assert "transformed:" not in r.stdout  # a machine that starts no transform says nothing of it
    r = tl(tmp_path, "workflow", "run", str(machine), "--input", '{"a": 1, "b": 1}', "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert (out["status"], out["error"], out["cause"]) == ("FAILED", "NotFour", "the sum is not 4")
    r = tl(tmp_path, "workflow", "executions", "--json")
    assert sorted(e["status"] for e in json.loads(r.stdout)) == ["FAILED", "SUCCEEDED"]
    r = tl(tmp_path, "workflow", "history", "ok1", "--json")
    events = json.loads(r.stdout)["events"]
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
    r = tl(tmp_path, "workflow", "history", "ok1")
    assert "TaskSucceeded" in r.stdout
    long = tmp_path / "long.asl.json"
    cause = "a cause that is longer than the eighty columns piped output has " * 2
    long.write_text(json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E",
                                                                 "Cause": cause}}}))  # fmt: skip
    r = tl(tmp_path, "workflow", "run", str(long))
    assert r.returncode == 1 and f"  E: {cause}\n" in r.stdout, r.stdout  # one line, not wrapped


def test_validate_list_graph_and_errors(tmp_path: Path) -> None:
    r = tl(tmp_path, "workflow", "validate", "batch")
    assert r.returncode == 0 and "batch: valid (16 states)" in r.stdout
    bad = tmp_path / "bad.asl.yaml"
    bad.write_text(
        "StartAt: WaitCrawler\nStates:\n  WaitCrawler:\n    Type: Wait\n"
        "    Seconds: 1\n    Next: Foo\n"
    )
    r = tl(tmp_path, "workflow", "validate", str(bad))
    assert r.returncode == 1
    assert "state 'WaitCrawler': field 'Next' names unknown state 'Foo'" in r.stderr
    assert "Traceback" not in r.stderr
    r = tl(tmp_path, "workflow", "list", "--json")
    assert {d["name"] for d in json.loads(r.stdout)} == {"batch", "batch-athena", "batch-sync"}
    r = tl(tmp_path, "workflow", "graph", "batch-sync", "--format", "dot")
    assert r.stdout.startswith('digraph "batch-sync"')
    r = tl(tmp_path, "workflow", "run", "nope")
    assert r.returncode == 1 and "no state machine named 'nope'" in r.stderr
    r = tl(tmp_path, "workflow", "run", "batch", "--input", "{bad")
    assert r.returncode == 1 and "--input is not valid JSON" in r.stderr


def test_schedule_commands(tmp_path: Path, machine: Path) -> None:
    (tmp_path / "trafficlake.toml").write_text(
        f'[[schedules]]\nname = "often"\nexpression = "rate(1 minute)"\n'
        f'state_machine = "{machine}"\ntimezone = "Europe/Brussels"\n'
        f"input = {{a = 2, b = 2}}\n"
    )
    r = tl(tmp_path, "schedule", "list", "--json")
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)
    assert row["name"] == "often" and row["next_fire"]
    listed = tl(tmp_path, "schedule", "list")
    assert "last fire" in listed.stdout and "never" in listed.stdout and "often" in listed.stdout
    r = tl(tmp_path, "schedule", "run", "--once")
    assert r.returncode == 0 and "nothing due" in r.stdout


@pytest.mark.slow
def test_killed_run_is_aborted_on_next_listing(tmp_path: Path) -> None:
    path = tmp_path / "slow.asl.json"
    path.write_text(
        json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 6000, "End": True}}}
        )
    )  # 60 s at wait_scale 0.01
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAFFICLAKE_")}
    env["TRAFFICLAKE_WORKFLOW__WAIT_SCALE"] = "0.01"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trafficlake.cli", "workflow", "run", str(path), "--name", "victim"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once the Wait state is entered
        assert "WaitStateEntered" in line
        r = tl(tmp_path, "workflow", "executions", "--json")
        assert [e["status"] for e in json.loads(r.stdout)] == ["RUNNING"]
    finally:
        proc.kill()
        proc.wait()
    r = tl(tmp_path, "workflow", "executions", "--json")
    (row,) = json.loads(r.stdout)
    assert (row["id"], row["status"]) == ("slow:victim", "ABORTED")
    r = tl(tmp_path, "workflow", "history", "victim")
    assert "ExecutionAborted" in r.stdout


def test_a_relative_definition_path_is_read_from_the_working_folder(
    tmp_path: Path, machine: Path
) -> None:
    """The config lives elsewhere; `workflow validate FILE` still finds FILE where it was typed."""
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "trafficlake.toml").write_text("[lake]\nurl = './lake'\n")
    r = tl(tmp_path, "workflow", "validate", machine.name, "--config", "conf/trafficlake.toml")
    assert r.returncode == 0, r.stderr
    missing = tl(
        tmp_path, "workflow", "validate", "nope.asl.json", "--config", "conf/trafficlake.toml"
    )
    assert missing.returncode == 1 and "no definition file nope.asl.json" in missing.stderr
