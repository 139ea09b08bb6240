"""Query executions in the library: the lifecycle, the persisted history, a dead owner."""

from __future__ import annotations

import socket
import time

from trafficlake.athena import executions
from trafficlake.catalog import QueryExecution, open_catalog
from trafficlake.config import Settings


def test_lifecycle_and_a_dead_owner(settings: Settings) -> None:
    done = executions.wait_for(
        settings,
        executions.start_query(settings, "SELECT 7 / 2", output_location="s3://b/r/").id,
    )
    assert done.state == "SUCCEEDED" and done.completed_at and done.submitted_at
    page = executions.query_results(settings, done.id)
    assert page.rows == [["_col0"], ["3"]] and [c.type for c in page.columns] == ["integer"]
    with open_catalog(settings) as cat:  # a run of a process that is gone
        cat.create_query_execution(QueryExecution(
            id="orphan", query="SELECT 1", state="RUNNING", submitted_at=time.time(),
            owner=f"{socket.gethostname()}:999999"))  # fmt: skip
    orphan = executions.get_query(settings, "orphan")
    assert orphan.state == "FAILED"
    assert orphan.reason and orphan.reason.startswith("GENERIC_INTERNAL_ERROR: the process")
    assert [q.id for q in executions.list_queries(settings)] == ["orphan", done.id]
