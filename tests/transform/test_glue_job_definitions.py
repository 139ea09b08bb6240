"""Glue job definitions over the catalog: list (the built-in job included), update, delete."""

from __future__ import annotations

import pytest

from trafficlake.catalog import open_catalog
from trafficlake.config import Settings
from trafficlake.transform import glue_jobs


def test_jobs_are_listed_replaced_and_deleted(settings: Settings) -> None:
    with open_catalog(settings) as catalog:
        assert [j["Name"] for j in glue_jobs.list_jobs(catalog)] == ["transform"]
        body = {"Name": "b", "Role": "r", "Command": {"Name": "glueetl"}, "MaxRetries": 2}
        catalog.put_resource(glue_jobs.JOB_KIND, "b", body, mode="create")
        catalog.put_resource(glue_jobs.JOB_KIND, "a", {**body, "Name": "a"}, mode="create")
        jobs = glue_jobs.list_jobs(catalog)
        assert [j["Name"] for j in jobs] == ["a", "b", "transform"]
        assert jobs[0]["CreatedOn"] > 0 and jobs[0]["MaxRetries"] == 2

        glue_jobs.update_job(catalog, "b", {"Role": "r2", "Command": {"Name": "pythonshell"}})
        assert glue_jobs.job_definition(catalog, "b") == {
            "Name": "b",
            "Role": "r2",
            "Command": {"Name": "pythonshell"},
        }  # the whole definition is replaced: MaxRetries is gone
        with pytest.raises(glue_jobs.NoSuchJobError, match="Job nope not found"):
            glue_jobs.update_job(catalog, "nope", {"Role": "r"})
        with pytest.raises(glue_jobs.InvalidJobArgumentError, match="built in"):
            glue_jobs.update_job(catalog, "transform", {"Role": "r"})

        glue_jobs.delete_job(catalog, "b")
        glue_jobs.delete_job(catalog, "b")  # absent: not an error
        with pytest.raises(glue_jobs.NoSuchJobError):
            glue_jobs.get_job(catalog, "b")
        with pytest.raises(glue_jobs.InvalidJobArgumentError, match="built in"):
            glue_jobs.delete_job(catalog, "transform")
        assert [j["Name"] for j in glue_jobs.list_jobs(catalog)] == ["a", "transform"]
