"""boto3's glue client against the endpoint: what setup, teardown and listing code calls -
DeleteDatabase, single partitions, BatchGetPartition, DeleteCrawler, GetJobs/UpdateJob/DeleteJob,
and boto3's own paginators over them."""

from __future__ import annotations

from typing import Any

import pytest
from aws_helpers import raw_call
from test_glue import table_input

from trafficlake.catalog import JobRun, open_catalog
from trafficlake.transform.plan import JOB


def partition_input(hour: str, location: str | None = None) -> dict[str, Any]:
    pi: dict[str, Any] = {"Values": ["2026", "11", "21", hour]}
    if location is not None:
        pi["StorageDescriptor"] = {"Location": location}
    return pi


def test_delete_database_takes_its_tables_with_it(aws: Any) -> None:
    glue = aws.client("glue")
    glue.create_database(DatabaseInput={"Name": "scratch", "Description": "to go"})
    glue.create_table(DatabaseName="scratch", TableInput=table_input("t1", "s3://b/scratch/t1/"))
    glue.create_partition(
        DatabaseName="scratch", TableName="t1", PartitionInput=partition_input("7")
    )
    glue.delete_database(Name="scratch")
    with pytest.raises(glue.exceptions.EntityNotFoundException, match="Database scratch not found"):
        glue.get_database(Name="scratch")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table(DatabaseName="scratch", Name="t1")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.delete_database(Name="scratch")
    glue.create_database(DatabaseInput={"Name": "scratch"})  # created again: empty, no input
    assert glue.get_tables(DatabaseName="scratch")["TableList"] == []
    assert "Description" not in glue.get_database(Name="scratch")["Database"]


def test_single_partitions_and_batch_get(aws: Any) -> None:
    glue = aws.client("glue")
    glue.create_database(DatabaseInput={"Name": "verkeer"})
    glue.create_table(DatabaseName="verkeer", TableInput=table_input("raw", "s3://b/miv/"))
    aws.lake.put_atomic("elsewhere/x.parquet", b"12345")
    ref = {"DatabaseName": "verkeer", "TableName": "raw"}
    for hour in range(7):
        glue.create_partition(**ref, PartitionInput=partition_input(str(hour)))
    with pytest.raises(glue.exceptions.AlreadyExistsException, match="Partition already exists"):
        glue.create_partition(**ref, PartitionInput=partition_input("3"))
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.create_partition(
            DatabaseName="verkeer", TableName="nope", PartitionInput=partition_input("1")
        )
    got = glue.get_partition(**ref, PartitionValues=["2026", "11", "21", "3"])["Partition"]
    assert got["StorageDescriptor"]["Location"].endswith("miv/year=2026/month=11/day=21/hour=3/")

    glue.update_partition(
        **ref,
        PartitionValueList=["2026", "11", "21", "3"],
        PartitionInput=partition_input("3", "s3://b/elsewhere/"),
    )
    with open_catalog(aws.settings) as catalog:
        moved = catalog.get_partition("verkeer", "raw", ["2026", "11", "21", "3"])
    assert (moved.location, moved.size_bytes) == ("elsewhere/", 5)
    with pytest.raises(glue.exceptions.InvalidInputException, match="cannot be changed"):
        glue.update_partition(
            **ref, PartitionValueList=["2026", "11", "21", "3"], PartitionInput=partition_input("4")
        )
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.update_partition(
            **ref, PartitionValueList=["2026", "11", "21", "9"], PartitionInput=partition_input("9")
        )

    batch = glue.batch_get_partition(
        **ref,
        PartitionsToGet=[{"Values": ["2026", "11", "21", h]} for h in ("5", "9", "1", "5")],
    )
    assert [p["Values"][3] for p in batch["Partitions"]] == ["5", "1"]  # the absent 9 is left out
    assert batch["UnprocessedKeys"] == []
    status, err = raw_call(
        aws.url,
        "AWSGlue.BatchGetPartition",
        {**ref, "PartitionsToGet": [{"Values": ["2026", "11", "21", "1"]}] * 1001},
    )
    assert status == 400 and err["__type"] == "InvalidInputException"

    glue.delete_partition(**ref, PartitionValues=["2026", "11", "21", "6"])
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.delete_partition(**ref, PartitionValues=["2026", "11", "21", "6"])

    pages = list(
        glue.get_paginator("get_partitions").paginate(**ref, PaginationConfig={"PageSize": 2})
    )
    assert [len(p["Partitions"]) for p in pages] == [2, 2, 2]
    hours = [p["Values"][3] for page in pages for p in page["Partitions"]]
    assert sorted(hours, key=int) == ["0", "1", "2", "3", "4", "5"]


def test_delete_crawler(aws: Any) -> None:
    glue = aws.client("glue")
    glue.create_crawler(
        Name="Temp",
        Role="r",
        DatabaseName="traffic",
        Targets={"S3Targets": [{"Path": "s3://b/x/"}]},
    )
    with open_catalog(aws.settings) as catalog:
        run = catalog.start_crawl("Temp")  # a crawl in progress, as a running crawler has
        with pytest.raises(glue.exceptions.CrawlerRunningException):
            glue.delete_crawler(Name="Temp")
        run.status = "SUCCEEDED"
        catalog.finish_crawl(run)
    glue.delete_crawler(Name="Temp")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_crawler(Name="Temp")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.delete_crawler(Name="Temp")
    assert "Temp" not in glue.list_crawlers()["CrawlerNames"]
    with pytest.raises(glue.exceptions.InvalidInputException, match="built in"):
        glue.delete_crawler(Name="raw")


def test_jobs_are_listed_in_pages_updated_and_deleted(aws: Any) -> None:
    glue = aws.client("glue")
    for name in ("job_a", "job_b", "job_c"):
        glue.create_job(
            Name=name,
            Role="r",
            Command={"Name": "glueetl", "ScriptLocation": f"s3://b/{name}.py"},
            MaxRetries=1,
        )
    pages = list(glue.get_paginator("get_jobs").paginate(PaginationConfig={"PageSize": 2}))
    assert [[j["Name"] for j in p["Jobs"]] for p in pages] == [
        ["job_a", "job_b"],
        ["job_c", "transform"],
    ]
    assert pages[0]["Jobs"][0]["Command"]["ScriptLocation"] == "s3://b/job_a.py"

    update = {"Role": "r2", "Command": {"Name": "glueetl", "ScriptLocation": "s3://b/v2.py"}}
    assert glue.update_job(JobName="job_b", JobUpdate=update)["JobName"] == "job_b"
    job = glue.get_job(JobName="job_b")["Job"]
    assert (job["Role"], job["Command"]["ScriptLocation"]) == ("r2", "s3://b/v2.py")
    assert "MaxRetries" not in job  # UpdateJob replaces the whole definition
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.update_job(JobName="nope", JobUpdate=update)

    assert glue.delete_job(JobName="job_b")["JobName"] == "job_b"
    assert glue.delete_job(JobName="job_b")["JobName"] == "job_b"  # absent: still answered
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job(JobName="job_b")
    with pytest.raises(glue.exceptions.InvalidInputException, match="built in"):
        glue.delete_job(JobName="transform")
    assert [j["Name"] for j in glue.get_jobs()["Jobs"]] == ["job_a", "job_c", "transform"]


def test_job_runs_are_listed_in_pages(aws: Any) -> None:
    glue = aws.client("glue")
    glue.create_job(Name="job_a", Role="r", Command={"Name": "glueetl"})
    with open_catalog(aws.settings) as catalog:  # transform runs as StartJobRun records them
        for i in range(7):
            job = "job_a" if i % 2 == 0 else "transform"
            run = JobRun(f"jr_{i}", JOB, state="SUCCEEDED", arguments={"glue_job": job})
            catalog.create_job_run(run)
    pages = list(
        glue.get_paginator("get_job_runs").paginate(
            JobName="job_a", PaginationConfig={"PageSize": 3}
        )
    )
    assert [[r["Id"] for r in p["JobRuns"]] for p in pages] == [["jr_6", "jr_4", "jr_2"], ["jr_0"]]
    assert all(r["JobName"] == "job_a" for p in pages for r in p["JobRuns"])
    with pytest.raises(glue.exceptions.InvalidInputException):
        glue.get_job_runs(JobName="job_a", NextToken="no-such-run")
