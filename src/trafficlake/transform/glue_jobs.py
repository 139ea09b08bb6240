"""The traffic transform seen as Glue jobs.

trafficlake has one job, the traffic transform. A Glue job (``CreateJob``, or the built-in
``transform``) is a name for it with default arguments; ``StartJobRun`` starts the transform in
the background and records which job (and arguments) started which run, so ``GetJobRun(s)``
answer per job. ``--job-bookmark-option``: ``job-bookmark-enable`` runs from the bookmark (the
transform's incremental run), ``job-bookmark-disable`` (Glue's default) rebuilds every day the
raw data holds, ``job-bookmark-pause`` is refused. ``--from``/``--to`` (``YYYY-MM-DD``)
rebuild an explicit range of event days. Every job shares the transform's one bookmark.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from trafficlake.catalog.base import Catalog, JobRun, NoSuchResourceError, Resource
from trafficlake.config import Settings
from trafficlake.transform.engine import TransformError
from trafficlake.transform.plan import JOB
from trafficlake.transform.runs import start_transform

BUILTIN_JOB = "transform"
JOB_KIND = "glue-job"
RUN_KIND = "glue-job-run"
BOOKMARK_OPTION = "--job-bookmark-option"
BOOKMARK_OPTIONS = ("job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause")


class NoSuchJobError(TransformError):
    pass


class InvalidJobArgumentError(TransformError):
    pass


def builtin_job() -> dict[str, Any]:
    return {
        "Name": BUILTIN_JOB,
        "Description": "the traffic transform (raw -> transformed, by event time)",
        "Command": {"Name": "glueetl", "ScriptLocation": "trafficlake:transform"},
        "DefaultArguments": {BOOKMARK_OPTION: "job-bookmark-enable"},
    }


def get_job(catalog: Catalog, name: str) -> Resource | None:
    """The job's definition (None for the built-in job); raises NoSuchJobError."""
    try:
        return catalog.get_resource(JOB_KIND, name)
    except NoSuchResourceError:
        if name == BUILTIN_JOB:
            return None
        raise NoSuchJobError(f"Job {name} not found") from None


def list_jobs(catalog: Catalog) -> list[dict[str, Any]]:
    """Every job's definition, the built-in one included, sorted by name."""
    jobs = {BUILTIN_JOB: builtin_job()}
    for r in catalog.list_resources(JOB_KIND):
        jobs[r.name] = {**r.body, "CreatedOn": r.created_at, "LastModifiedOn": r.updated_at}
    return [jobs[name] for name in sorted(jobs)]


def update_job(catalog: Catalog, name: str, definition: dict[str, Any]) -> None:
    """Replace a created job's definition (Glue's UpdateJob overwrites the whole definition);
    raises NoSuchJobError, InvalidJobArgumentError for the built-in job."""
    if name == BUILTIN_JOB:
        raise InvalidJobArgumentError(f"Job {name} is built in and cannot be changed")
    try:
        catalog.put_resource(JOB_KIND, name, {**definition, "Name": name}, mode="update")
    except NoSuchResourceError:
        raise NoSuchJobError(f"Job {name} not found") from None


def delete_job(catalog: Catalog, name: str) -> None:
    """Delete a created job (its runs are no longer reachable through it); deleting an absent
    job is not an error, as in Glue. Raises InvalidJobArgumentError for the built-in job."""
    if name == BUILTIN_JOB:
        raise InvalidJobArgumentError(f"Job {name} is built in and cannot be deleted")
    with contextlib.suppress(NoSuchResourceError):
        catalog.delete_resource(JOB_KIND, name)


def job_definition(catalog: Catalog, name: str) -> dict[str, Any]:
    res = get_job(catalog, name)
    return builtin_job() if res is None else res.body


def _day(value: Any, what: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidJobArgumentError(f"{what} must be YYYY-MM-DD, got {value!r}") from None


def start_job_run(
    settings: Settings, catalog: Catalog, name: str, arguments: dict[str, str] | None = None
) -> JobRun:
    """Start the transform for job ``name``; raises TransformRunningError when one runs."""
    merged = {**job_definition(catalog, name).get("DefaultArguments", {}), **(arguments or {})}
    option = merged.get(BOOKMARK_OPTION, "job-bookmark-disable")
    if option not in BOOKMARK_OPTIONS:
        raise InvalidJobArgumentError(
            f"{BOOKMARK_OPTION} must be one of {', '.join(BOOKMARK_OPTIONS)}, got {option!r}"
        )
    if option == "job-bookmark-pause":
        raise InvalidJobArgumentError("job-bookmark-pause is not supported by the transform")
    start, end = _day(merged.get("--from"), "--from"), _day(merged.get("--to"), "--to")
    run = start_transform(
        settings,
        start_day=start,
        end_day=end,
        reset_bookmark=option == "job-bookmark-disable" and start is None,
        glue_job=name,
    )
    catalog.put_resource(RUN_KIND, run.id, {"JobName": name, "Arguments": merged})
    return run


def job_of_run(catalog: Catalog, run: JobRun) -> tuple[str, dict[str, Any]]:
    """(job name, arguments) of a transform run; runs not started as a Glue job belong to the
    built-in job."""
    try:
        body = catalog.get_resource(RUN_KIND, run.id).body
        return str(body["JobName"]), dict(body.get("Arguments", {}))
    except NoSuchResourceError:  # not a Glue job run, or its arguments are not recorded yet
        return str(run.arguments.get("glue_job") or BUILTIN_JOB), {}


def job_runs(
    catalog: Catalog, name: str, limit: int = 100, after: str | None = None
) -> list[JobRun]:
    """Up to ``limit`` of the job's runs, newest first; ``after``: only those older than the
    run with that id (raises NoSuchJobRunError when it is unknown)."""
    get_job(catalog, name)
    found: list[JobRun] = []
    while len(found) < limit:  # every job's runs are transform runs: read them in chunks
        chunk = catalog.list_job_runs(JOB, limit=max(limit, 100), after=after)
        found += [r for r in chunk if job_of_run(catalog, r)[0] == name]
        if len(chunk) < max(limit, 100):
            break
        after = chunk[-1].id
    return found[:limit]


def job_run(catalog: Catalog, name: str, run_id: str) -> JobRun:
    get_job(catalog, name)
    run = catalog.get_job_run(run_id)
    if run.job != JOB or job_of_run(catalog, run)[0] != name:
        from trafficlake.catalog.base import NoSuchJobRunError

        raise NoSuchJobRunError(f"Job run {run_id} of job {name} not found")
    return run
