"""EventBridge expressions, DST in Europe/Brussels, restart semantics and the schedule lock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
from pathlib import Path

import pytest

from trafficlake.catalog import open_catalog
from trafficlake.config import ScheduleEntry, Settings
from trafficlake.workflow.cron import last_fire_at_or_before, next_fire
from trafficlake.workflow.errors import ScheduleError, ScheduleLockedError
from trafficlake.workflow.schedule import list_schedules, run_due, run_forever, schedule_lock

UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def fires(expr: str, start: dt.datetime, n: int, tz: str = "UTC") -> list[str]:
    out, t = [], start
    for _ in range(n):
        t = next_fire(expr, t, tz)
        assert t is not None
        out.append(t.strftime("%Y-%m-%d %H:%M"))
    return out


def test_rate() -> None:
    assert next_fire("rate(5 minutes)", at(2026, 1, 1, 0, 0)) == at(2026, 1, 1, 0, 5)
    assert next_fire("rate(1 hour)", at(2026, 1, 1, 0, 0)) == at(2026, 1, 1, 1, 0)
    assert next_fire("rate(2 days)", at(2026, 1, 1)) == at(2026, 1, 3)
    for bad in ("rate(0 minutes)", "rate(1 minutes)", "rate(2 hour)", "rate(1 week)"):
        with pytest.raises(ScheduleError):
            next_fire(bad, at(2026, 1, 1))


def test_cron_basics_lists_ranges_steps_names() -> None:
    assert fires("cron(15 2 * * ? *)", at(2026, 1, 1), 2) == [
        "2026-01-01 02:15",
        "2026-01-02 02:15",
    ]
    assert fires("cron(*/20 8-9 ? * MON-FRI *)", at(2026, 11, 20, 9, 30), 4) == [
        "2026-11-20 09:40",
        "2026-11-23 08:00",
        "2026-11-23 08:20",
        "2026-11-23 08:40",
    ]
    assert fires("cron(0 12 1,15 JAN,JUL ? 2027)", at(2026, 1, 1), 3) == [
        "2027-01-01 12:00",
        "2027-01-15 12:00",
        "2027-07-01 12:00",
    ]
    assert next_fire("cron(0 0 1 1 ? 2020)", at(2026, 1, 1)) is None


def test_cron_l_w_hash() -> None:
    # last day of month (2028 is a leap year)
    assert fires("cron(0 0 L * ? *)", at(2028, 1, 15), 2) == [
        "2028-01-31 00:00",
        "2028-02-29 00:00",
    ]
    # nearest weekday to the 1st: 2026-08-01 is a Saturday -> Monday 3rd (stays in the month)
    assert fires("cron(0 9 1W * ? *)", at(2026, 7, 15), 1) == ["2026-08-03 09:00"]
    # nearest weekday to the 15th: 2026-11-15 is a Sunday -> Monday 16th
    assert fires("cron(0 9 15W * ? *)", at(2026, 11, 1), 1) == ["2026-11-16 09:00"]
    # last weekday: 2026-05-31 is a Sunday -> Friday 29th
    assert fires("cron(0 9 LW * ? *)", at(2026, 5, 1), 1) == ["2026-05-29 09:00"]
    # second Tuesday (3#2), last Friday (6L)
    assert fires("cron(0 9 ? * 3#2 *)", at(2026, 11, 1), 2) == [
        "2026-11-10 09:00",
        "2026-12-08 09:00",
    ]
    assert fires("cron(0 9 ? * 6L *)", at(2026, 11, 1), 1) == ["2026-11-27 09:00"]
    assert fires("cron(0 9 ? * L *)", at(2026, 11, 20), 1) == ["2026-11-21 09:00"]  # Saturday


@pytest.mark.parametrize(
    "bad",
    [
        "cron(0 0 * * * *)",
        "cron(0 0 ? * ? *)",
        "cron(0 0 * * ?)",
        "cron(60 0 * * ? *)",
        "cron(0 0 ? * 8 *)",
        "cron(0 0 5-1 * ? *)",
        "cron(0 0 ? * MON#6 *)",
        "every day",
    ],
)
def test_cron_errors(bad: str) -> None:
    with pytest.raises(ScheduleError):
        next_fire(bad, at(2026, 1, 1))


def test_dst_in_brussels() -> None:
    tz = "Europe/Brussels"
    # 02:15 local every day: 01:15Z in winter (CET), 00:15Z in summer (CEST)
    assert fires("cron(15 2 * * ? *)", at(2026, 3, 27, 12), 3, tz) == [
        "2026-03-28 01:15",
        "2026-03-29 01:15",
        "2026-03-30 00:15",
    ]
    # 2026-03-29 02:15 does not exist: it fires at 03:15 CEST (01:15Z), once
    # fall back 2026-10-25: 02:15 happens twice; fires once, on the first (CEST) occurrence
    assert fires("cron(15 2 * * ? *)", at(2026, 10, 23, 12), 3, tz) == [
        "2026-10-24 00:15",
        "2026-10-25 00:15",
        "2026-10-26 01:15",
    ]
    # every 30 minutes across the spring-forward gap: no duplicates, no gap-time fires twice
    got = fires("cron(0/30 * * * ? *)", at(2026, 3, 29, 0, 0), 4, tz)
    assert got == ["2026-03-29 00:30", "2026-03-29 01:00", "2026-03-29 01:30", "2026-03-29 02:00"]
    # hourly over the fall-back night: the repeated local hour 02:xx fires once
    got = fires("cron(0 * * * ? *)", at(2026, 10, 24, 23, 30), 4, tz)
    assert got == ["2026-10-25 00:00", "2026-10-25 02:00", "2026-10-25 03:00", "2026-10-25 04:00"]


def test_last_fire_at_or_before() -> None:
    a = at(2026, 1, 1)
    assert last_fire_at_or_before("rate(1 day)", a, at(2026, 1, 4, 12), "UTC") == at(2026, 1, 4)
    assert last_fire_at_or_before("cron(*/1 * * * ? *)", a, at(2026, 2, 1, 0, 0, 30), "UTC") == at(
        2026, 2, 1
    )
    assert last_fire_at_or_before("cron(0 3 * * ? *)", a, at(2026, 1, 1, 2), "UTC") == a


# ---- the scheduler ---------------------------------------------------------------------------


@pytest.fixture
def machine(tmp_path: Path) -> str:
    path = tmp_path / "tick.asl.json"
    path.write_text(
        json.dumps(
            {
                "StartAt": "T",
                "States": {"T": {"Type": "Task", "Resource": "python:wf_tasks.track", "End": True}},
            }
        )
    )
    return str(path)


def with_schedule(settings: Settings, machine: str, expr: str = "rate(1 day)") -> Settings:
    return dataclasses.replace(
        settings,
        schedules=[
            ScheduleEntry(
                name="daily",
                expression=expr,
                state_machine=machine,
                timezone="UTC",
                input={"from": "schedule"},
            )
        ],
    )


def test_restart_runs_a_missed_fire_once(settings: Settings, machine: str) -> None:
    s = with_schedule(settings, machine)
    t0 = at(2026, 11, 1, 6)
    assert run_due(s, now=lambda: t0) == []  # first sight anchors the schedule
    assert list_schedules(s, t0)[0].next_fire == at(2026, 11, 2, 6).isoformat()
    later = t0 + dt.timedelta(days=3, hours=5)  # "down" for three fires
    results = run_due(s, now=lambda: later)
    assert [(r.status, r.output) for r in results] == [("SUCCEEDED", {"from": "schedule"})]
    assert results[0].name == "daily-20261104T060000Z"
    assert run_due(s, now=lambda: later) == []
    assert len(run_due(s, now=lambda: t0 + dt.timedelta(days=4))) == 1
    with open_catalog(s) as catalog:
        state = catalog.get_bookmark("schedule:daily")
        assert state["last_status"] == "SUCCEEDED"
        assert len(catalog.list_executions()) == 2


def test_changed_expression_reanchors(settings: Settings, machine: str) -> None:
    t0 = at(2026, 11, 1, 6)
    run_due(with_schedule(settings, machine), now=lambda: t0)
    s2 = with_schedule(settings, machine, "cron(0 7 * * ? *)")
    assert run_due(s2, now=lambda: t0 + dt.timedelta(days=2)) == []
    assert len(run_due(s2, now=lambda: t0 + dt.timedelta(days=3))) == 1


def test_lock_runs_executions_one_at_a_time(settings: Settings, machine: str) -> None:
    s = with_schedule(settings, machine)
    t0 = at(2026, 11, 1, 6)
    run_due(s, now=lambda: t0)
    due = t0 + dt.timedelta(days=1, minutes=1)
    results: list[int] = []
    with schedule_lock(s):
        with pytest.raises(ScheduleLockedError), schedule_lock(s, blocking=False):
            pass
        threads = [
            threading.Thread(target=lambda: results.append(len(run_due(s, now=lambda: due))))
            for _ in range(2)
        ]
        for t in threads:
            t.start()
        time.sleep(0.3)
        assert results == []  # both wait for the lock
    for t in threads:
        t.join(10)
    assert sorted(results) == [0, 1]  # the second saw the fire already taken


def test_invalid_schedule_is_a_clear_error(settings: Settings, machine: str) -> None:
    s = with_schedule(settings, machine, "cron(0 0 * * * *)")
    with pytest.raises(ScheduleError, match="schedule 'daily'"):
        run_due(s)
    s = dataclasses.replace(
        s,
        schedules=[
            dataclasses.replace(s.schedules[0], expression="rate(1 day)", timezone="Mars/Olympus")
        ],
    )
    with pytest.raises(ScheduleError, match="unknown timezone"):
        list_schedules(s)


def test_run_forever_stops_on_request(settings: Settings, machine: str) -> None:
    s = with_schedule(settings, machine, "rate(5 minutes)")
    stop = threading.Event()
    worker = threading.Thread(target=run_forever, args=(s,), kwargs={"stop": stop})
    worker.start()
    time.sleep(0.5)
    stop.set()
    worker.join(5)
    assert not worker.is_alive()
    (row,) = list_schedules(s)
    assert row.last_fire is not None and row.last_execution is None


def test_unknown_state_machine_is_rejected_up_front(settings: Settings, machine: str) -> None:
    s = with_schedule(settings, "no-such-machine")
    with pytest.raises(ScheduleError, match="schedule 'daily': state machine 'no-such-machine'"):
        run_due(s, now=lambda: at(2026, 11, 1, 6))
    with pytest.raises(ScheduleError, match="no-such-machine"):
        list_schedules(s)
    with open_catalog(s) as catalog:
        assert catalog.get_bookmark("schedule:daily") is None  # nothing anchored, nothing lost


def test_fire_that_cannot_start_is_recorded_failed_not_lost(
    settings: Settings, machine: str
) -> None:
    from trafficlake.catalog import Execution
    from trafficlake.workflow.library import find_machine

    s = with_schedule(settings, machine)
    t0 = at(2026, 11, 1, 6)
    assert run_due(s, now=lambda: t0) == []
    # The execution name of the next fire is already taken, so run_workflow raises before
    # the execution is created (what a crash-restart or a foreign execution looks like).
    name = "daily-20261102T060000Z"
    taken = f"{find_machine(s, machine).name}:{name}"
    with open_catalog(s) as catalog:
        catalog.create_execution(
            Execution(id=taken, state_machine=find_machine(s, machine).name, name=name, input={})
        )
    due = t0 + dt.timedelta(days=1, minutes=1)
    results = run_due(s, now=lambda: due)
    assert [(r.name, r.status, r.error) for r in results] == [
        (name, "FAILED", "Schedule.StartFailed")
    ]
    assert "already exists" in (results[0].cause or "")
    status = list_schedules(s, due)[0]
    assert status.last_status == "FAILED" and "already exists" in (status.last_error or "")
    assert status.last_fire == at(2026, 11, 2, 6).isoformat()
    assert run_due(s, now=lambda: due) == []  # recorded: not retried in a loop, not repeated
    nxt = run_due(s, now=lambda: due + dt.timedelta(days=1))
    assert [r.status for r in nxt] == ["SUCCEEDED"]
    assert list_schedules(s, due)[0].last_error is None


def test_bookmark_records_the_execution_while_it_runs(settings: Settings, machine: str) -> None:
    s = with_schedule(settings, machine)
    t0 = at(2026, 11, 1, 6)
    run_due(s, now=lambda: t0)
    seen: list[dict[str, object]] = []

    def peek(event: object) -> None:
        with open_catalog(s) as catalog:
            seen.append(dict(catalog.get_bookmark("schedule:daily") or {}))

    results = run_due(s, now=lambda: t0 + dt.timedelta(days=1), on_event=peek)
    assert seen and seen[0]["last_status"] == "RUNNING"
    assert seen[0]["last_execution"] == results[0].id
    assert seen[0]["last_fire"] == at(2026, 11, 2, 6).timestamp()


def test_a_fire_whose_process_died_is_listed_aborted_not_running(
    settings: Settings, machine: str
) -> None:
    import socket
    import subprocess
    import sys

    from trafficlake.catalog import Execution

    s = with_schedule(settings, machine)
    t0 = at(2026, 11, 1, 6)
    list_schedules(s, t0)  # anchors the schedule
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid names a process of this host that no longer exists
    execution_id = "tick:killed-fire"
    with open_catalog(s) as catalog:  # what a scheduler killed mid-fire leaves behind
        catalog.create_execution(
            Execution(
                execution_id,
                "tick",
                "killed-fire",
                started_at=t0.timestamp(),
                owner=f"{socket.gethostname()}:{dead.pid}",
            )
        )
        state = dict(catalog.get_bookmark("schedule:daily") or {})
        state.update(last_execution=execution_id, last_status="RUNNING", last_error=None)
        catalog.put_bookmark("schedule:daily", state)
    [status] = list_schedules(s, t0 + dt.timedelta(hours=1))
    assert status.last_status == "ABORTED" and status.last_execution == execution_id
    assert "is gone" in (status.last_error or "")


def test_rate_messages_offer_the_accepted_form() -> None:
    with pytest.raises(ScheduleError, match=r"write 'rate\(1 minute\)' \(a value of 1"):
        next_fire("rate(1 minutes)", at(2026, 1, 1))
    with pytest.raises(ScheduleError, match=r"write 'rate\(5 hours\)' \(values above 1"):
        next_fire("rate(5 hour)", at(2026, 1, 1))
