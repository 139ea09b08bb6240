"""JobCatalog behaviour (bookmarks, job runs), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from trafficlake.catalog import (
    Catalog,
    JobRun,
    NoSuchJobRunError,
)


def test_bookmarks_and_job_runs(catalog: Catalog) -> None:
    assert catalog.get_bookmark("t") is None
    catalog.put_bookmark("t", {"version": 3, "days": ["2026-11-21"]})
    catalog.put_bookmark("t", {"version": 4})
    assert catalog.get_bookmark("t") == {"version": 4}
    catalog.reset_bookmark("t")
    assert catalog.get_bookmark("t") is None

    r1 = catalog.create_job_run(JobRun("r1", "transform", arguments={"from": "2026-11-20"}))
    assert r1.started_at is not None and r1.owner
    catalog.create_job_run(JobRun("r2", "transform"))
    r1.state, r1.result = "SUCCEEDED", {"rows_written": 5}
    catalog.update_job_run(r1)
    assert catalog.get_job_run("r1").result == {"rows_written": 5}
    assert [r.id for r in catalog.list_job_runs("transform")] == ["r2", "r1"]
    with pytest.raises(NoSuchJobRunError, match="job run zz not found"):
        catalog.get_job_run("zz")
    with pytest.raises(NoSuchJobRunError):
        catalog.update_job_run(JobRun("zz", "x"))


def test_list_job_runs_pages_after_a_cursor(catalog: Catalog) -> None:
    for i in range(4):
        catalog.create_job_run(JobRun(f"r{i}", "transform" if i != 1 else "other"))
    first = catalog.list_job_runs("transform", limit=2)
    assert [r.id for r in first] == ["r3", "r2"]
    assert [r.id for r in catalog.list_job_runs("transform", after="r2")] == ["r0"]
    with pytest.raises(NoSuchJobRunError, match="job run gone not found"):
        catalog.list_job_runs(after="gone")
