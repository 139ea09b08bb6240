"""Glue job operations (a mixin of :class:`trafficlake.aws.glue.GlueOperations`): the traffic
transform as Glue jobs, over :mod:`trafficlake.transform.glue_jobs`."""

from __future__ import annotations

import json
from typing import Any

from trafficlake.aws.glue_request import field, optional, paged
from trafficlake.aws.service import AwsContext, AwsError
from trafficlake.catalog.base import Catalog, JobRun, NoSuchJobRunError
from trafficlake.config import Settings
from trafficlake.transform import glue_jobs

JOB_RUNS_PAGE = 200
"""GetJobRuns' largest page (MaxResults 1..200)."""


class JobOperations:
    context: AwsContext
    settings: Settings
    catalog: Catalog

    def CreateJob(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "Name")
        field(body, "Role")
        field(body, "Command", dict)
        args = optional(body, "DefaultArguments", dict, {}) or {}
        if not all(isinstance(v, str) for v in args.values()):
            raise AwsError("InvalidInputException", "DefaultArguments values must be strings")
        if name == glue_jobs.BUILTIN_JOB:
            raise AwsError("AlreadyExistsException", f"Job {name} already exists (built in)")
        self.catalog.put_resource(glue_jobs.JOB_KIND, name, body, mode="create")
        return {"Name": name}

    def GetJob(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "JobName")
        res = glue_jobs.get_job(self.catalog, name)
        job = glue_jobs.builtin_job() if res is None else dict(res.body)
        if res is not None:
            job.update(CreatedOn=res.created_at, LastModifiedOn=res.updated_at)
        return {"Job": job}

    def GetJobs(self, body: dict[str, Any]) -> dict[str, Any]:
        page, token = paged(glue_jobs.list_jobs(self.catalog), body, lambda j: j["Name"])
        return {"Jobs": page, **({"NextToken": token} if token else {})}

    def UpdateJob(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "JobName")
        update = field(body, "JobUpdate", dict)
        args = optional(update, "DefaultArguments", dict, {}) or {}
        if not all(isinstance(v, str) for v in args.values()):
            raise AwsError("InvalidInputException", "DefaultArguments values must be strings")
        glue_jobs.update_job(self.catalog, name, update)
        return {"JobName": name}

    def DeleteJob(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "JobName")
        glue_jobs.delete_job(self.catalog, name)
        return {"JobName": name}

    def StartJobRun(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "JobName")
        args = optional(body, "Arguments", dict, {}) or {}
        if not all(isinstance(v, str) for v in args.values()):
            raise AwsError("InvalidInputException", "Arguments values must be strings")
        run = glue_jobs.start_job_run(self.settings, self.catalog, name, args)
        return {"JobRunId": run.id}

    def _run_out(self, run: JobRun) -> dict[str, Any]:
        job, args = glue_jobs.job_of_run(self.catalog, run)
        out: dict[str, Any] = {
            "Id": run.id,
            "Attempt": 0,
            "JobName": job,
            "StartedOn": run.started_at,
            "LastModifiedOn": run.ended_at or run.started_at,
            "JobRunState": run.state,
            "Arguments": args,
            "PredecessorRuns": [],
            "GlueVersion": "4.0",
        }
        if run.ended_at:
            out["CompletedOn"] = run.ended_at
            out["ExecutionTime"] = int(run.ended_at - (run.started_at or run.ended_at))
        if run.error:
            out["ErrorMessage"] = run.error
        return out

    def GetJobRun(self, body: dict[str, Any]) -> dict[str, Any]:
        run = glue_jobs.job_run(self.catalog, field(body, "JobName"), field(body, "RunId"))
        return {"JobRun": self._run_out(run)}

    def GetJobRuns(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "JobName")
        size = min(optional(body, "MaxResults", int, 100) or 100, JOB_RUNS_PAGE)
        after = optional(body, "NextToken", str)
        try:
            runs = glue_jobs.job_runs(self.catalog, name, limit=size + 1, after=after)
        except NoSuchJobRunError:
            raise AwsError("InvalidInputException", f"Invalid NextToken: {after}") from None
        out: dict[str, Any] = {"JobRuns": [self._run_out(r) for r in runs[:size]]}
        if len(runs) > size:
            out["NextToken"] = runs[size - 1].id
        return out

    def _bookmark_out(self, name: str) -> dict[str, Any]:

        state = self.catalog.get_bookmark(glue_jobs.JOB)
        runs = glue_jobs.job_runs(self.catalog, name, limit=2)
        return {
            "JobBookmarkEntry": {
                "JobName": name,
                "Version": int((state or {}).get("version", 0) or 0),
                "Run": len(runs),
                "Attempt": 0,
                **({"RunId": runs[0].id} if runs else {}),
                **({"PreviousRunId": runs[1].id} if len(runs) > 1 else {}),
                "JobBookmark": json.dumps(state or {}),
            }
        }

    def GetJobBookmark(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "JobName")
        glue_jobs.get_job(self.catalog, name)
        if self.catalog.get_bookmark(glue_jobs.JOB) is None:
            raise AwsError("EntityNotFoundException", f"Continuation for job {name} not found")
        return self._bookmark_out(name)

    def ResetJobBookmark(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "JobName")
        glue_jobs.get_job(self.catalog, name)
        out = self._bookmark_out(name)
        self.catalog.reset_bookmark(glue_jobs.JOB)
        return out
