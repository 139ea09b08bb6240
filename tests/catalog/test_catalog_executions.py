"""ExecutionCatalog behaviour (workflow executions, history), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from trafficlake.catalog import (
    AlreadyExistsError,
    Catalog,
    Execution,
    HistoryEvent,
    NoSuchExecutionError,
)


def test_executions_and_history(catalog: Catalog) -> None:
    e = catalog.create_execution(Execution("", "etl", "run-1", input={"a": 1}))
    assert e.id == "etl:run-1"
    with pytest.raises(AlreadyExistsError, match="already exists"):
        catalog.create_execution(Execution("", "etl", "run-1"))
    e.status, e.output = "SUCCEEDED", {"ok": True}
    catalog.update_execution(e)
    assert catalog.get_execution("etl:run-1").output == {"ok": True}
    catalog.create_execution(Execution("", "other", "x"))
    assert [x.id for x in catalog.list_executions()] == ["other:x", "etl:run-1"]
    assert [x.id for x in catalog.list_executions(state_machine="etl", status="SUCCEEDED")] == [
        "etl:run-1"
    ]
    catalog.add_history_events(
        "etl:run-1",
        [
            HistoryEvent(2, "TaskStateEntered", 2.0, 1, {"name": "Crawl"}),
            HistoryEvent(1, "ExecutionStarted", 1.0, 0, {}),
        ],
    )
    assert [h.type for h in catalog.get_history("etl:run-1")] == [
        "ExecutionStarted",
        "TaskStateEntered",
    ]
    with pytest.raises(NoSuchExecutionError, match="execution nope not found"):
        catalog.get_history("nope")


def test_list_executions_pages_after_a_cursor(catalog: Catalog) -> None:
    for i in range(5):
        catalog.create_execution(Execution("", "etl" if i != 2 else "other", f"r{i}"))
    first = catalog.list_executions(state_machine="etl", limit=2)
    assert [e.id for e in first] == ["etl:r4", "etl:r3"]
    rest = catalog.list_executions(state_machine="etl", limit=2, after=first[-1].id)
    assert [e.id for e in rest] == ["etl:r1", "etl:r0"]  # other:r2 is not etl's
    catalog.create_execution(Execution("", "etl", "new"))  # a new execution shifts nothing
    assert catalog.list_executions(state_machine="etl", after="etl:r1") == rest[1:]
    with pytest.raises(NoSuchExecutionError, match="execution etl:gone not found"):
        catalog.list_executions(after="etl:gone")
