"""QueryCatalog behaviour (Athena query executions), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from trafficlake.catalog import (
    AlreadyExistsError,
    Catalog,
    NoSuchQueryExecutionError,
    QueryExecution,
)


def test_query_executions_round_trip_newest_first_by_work_group(catalog: Catalog) -> None:
    q1 = catalog.create_query_execution(QueryExecution("q1", "SELECT 1", work_group="primary"))
    assert q1.owner  # this process
    catalog.create_query_execution(QueryExecution("q2", "SELECT 2", work_group="other"))
    catalog.create_query_execution(QueryExecution("q3", "SELECT 3", work_group="primary"))
    with pytest.raises(AlreadyExistsError, match="query execution q1 already exists"):
        catalog.create_query_execution(QueryExecution("q1", "SELECT 1"))
    assert [q.id for q in catalog.list_query_executions()] == ["q3", "q2", "q1"]
    assert [q.id for q in catalog.list_query_executions(work_group="primary")] == ["q3", "q1"]
    assert [q.id for q in catalog.list_query_executions(limit=1, offset=1)] == ["q2"]
    q1.state, q1.statistics = "SUCCEEDED", {"DataScannedInBytes": 10}
    assert catalog.update_query_execution(q1) is True
    got = catalog.get_query_execution("q1")
    assert (got.state, got.statistics, got.query) == (
        "SUCCEEDED",
        {"DataScannedInBytes": 10},
        "SELECT 1",
    )
    with pytest.raises(NoSuchQueryExecutionError):
        catalog.get_query_execution("nope")
    with pytest.raises(NoSuchQueryExecutionError):
        catalog.update_query_execution(QueryExecution("nope", "SELECT 1"))


def test_a_stopped_query_stays_stopped(catalog: Catalog) -> None:
    q = catalog.create_query_execution(QueryExecution("q", "SELECT 1", state="RUNNING"))
    q.state = "CANCELLED"
    assert catalog.update_query_execution(q) is True
    q.state = "SUCCEEDED"  # the worker finishing late: compare-and-set refuses it
    assert catalog.update_query_execution(q, only_if_active=True) is False
    assert catalog.get_query_execution("q").state == "CANCELLED"
