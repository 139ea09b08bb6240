"""boto3's glue client against the endpoint: catalog, partitions, crawlers, jobs, errors."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aws_helpers import raw_call

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def table_input(name: str, location: str) -> dict[str, Any]:
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
        "PartitionKeys": [{"Name": k, "Type": "string"} for k in ("year", "month", "day", "hour")],
        "StorageDescriptor": {
            "Columns": [
                {"Name": "unieke_id", "Type": "int"},
                {"Name": "tijd_waarneming", "Type": "bigint", "Comment": "epoch s"},
                {"Name": "beschrijvende_id", "Type": "string"},
            ],
            "Location": location,
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {
                "SerializationLibrary": PARQUET_SERDE,
                "Parameters": {"serialization.format": "1"},
            },
            "Compressed": True,
            "StoredAsSubDirectories": False,
        },
    }


def wait_ready(glue: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        crawler = glue.get_crawler(Name=name)["Crawler"]
        if crawler["State"] == "READY" and "LastCrawl" in crawler:
            return crawler
        time.sleep(0.05)
    raise AssertionError(f"crawler {name} still running")


def test_databases_and_tables_round_trip_the_table_input(aws: Any) -> None:
    glue = aws.client("glue")
    glue.create_database(DatabaseInput={"Name": "verkeer", "Description": "MIV"})
    with pytest.raises(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": "verkeer"})
    assert glue.get_database(Name="verkeer")["Database"]["Description"] == "MIV"
    assert "verkeer" in [d["Name"] for d in glue.get_databases()["DatabaseList"]]
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_database(Name="nope")

    ti = table_input("miv_raw", "s3://my-bucket/declared/raw/")
    glue.create_table(DatabaseName="verkeer", TableInput=ti)
    with pytest.raises(glue.exceptions.AlreadyExistsException):
        glue.create_table(DatabaseName="verkeer", TableInput=ti)
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.create_table(DatabaseName="nope", TableInput=ti)
    t = glue.get_table(DatabaseName="verkeer", Name="miv_raw")["Table"]
    sd = t["StorageDescriptor"]
    assert sd["Location"] == "s3://my-bucket/declared/raw/"
    assert sd["SerdeInfo"] == ti["StorageDescriptor"]["SerdeInfo"]
    assert sd["Compressed"] is True
    assert sd["Columns"][1] == {"Name": "tijd_waarneming", "Type": "bigint", "Comment": "epoch s"}
    assert [k["Name"] for k in t["PartitionKeys"]] == ["year", "month", "day", "hour"]
    assert t["TableType"] == "EXTERNAL_TABLE" and t["Parameters"]["EXTERNAL"] == "TRUE"

    from trafficlake.catalog import open_catalog

    with open_catalog(aws.settings) as catalog:  # the location is a lake key for the engines
        assert catalog.get_table("verkeer", "miv_raw").location == "declared/raw/"

    ti["StorageDescriptor"]["Columns"].append({"Name": "lve_nr", "Type": "int"})
    glue.update_table(DatabaseName="verkeer", TableInput=ti)
    cols = glue.get_table(DatabaseName="verkeer", Name="miv_raw")["Table"]["StorageDescriptor"]
    assert cols["Columns"][-1]["Name"] == "lve_nr"
    assert [t["Name"] for t in glue.get_tables(DatabaseName="verkeer")["TableList"]] == ["miv_raw"]
    csv = table_input("csv", "s3://b/csv/")
    csv["StorageDescriptor"]["SerdeInfo"] = {"SerializationLibrary": "LazySimpleSerDe"}
    csv["StorageDescriptor"]["InputFormat"] = "org.apache.hadoop.mapred.TextInputFormat"
    csv["Parameters"] = {"classification": "csv"}
    with pytest.raises(glue.exceptions.InvalidInputException, match="Parquet and JSON"):
        glue.create_table(DatabaseName="verkeer", TableInput=csv)
    for wrong in (
        {"Name": "x", "Parameters": "no"},
        [1],
        {"Name": 5},
        {"Name": "x", "PartitionKeys": [{}]},
    ):
        status, reply = raw_call(
            aws.url, "AWSGlue.CreateTable", {"DatabaseName": "verkeer", "TableInput": wrong}
        )
        assert (status, reply["__type"]) == (400, "InvalidInputException"), wrong
    assert [t["Name"] for t in glue.get_tables(DatabaseName="verkeer")["TableList"]] == ["miv_raw"]
    glue.delete_table(DatabaseName="verkeer", Name="miv_raw")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table(DatabaseName="verkeer", Name="miv_raw")


def test_declared_partitions_and_expressions(aws: Any, raw_writer: Any) -> None:
    glue = aws.client("glue")
    glue.create_database(DatabaseInput={"Name": "verkeer"})
    glue.create_table(DatabaseName="verkeer", TableInput=table_input("raw", "s3://b/raw/"))
    keys = [raw_writer.write_hour(aws.lake, 2026, 11, d, h) for d, h in ((20, 7), (21, 7), (21, 8))]
    inputs = [{"Values": ["2026", "11", str(d), str(h)]} for d, h in ((20, 7), (21, 7), (21, 8))]
    assert (
        glue.batch_create_partition(
            DatabaseName="verkeer", TableName="raw", PartitionInputList=inputs
        )["Errors"]
        == []
    )
    again = glue.batch_create_partition(
        DatabaseName="verkeer", TableName="raw", PartitionInputList=inputs[:1]
    )["Errors"]
    assert again[0]["ErrorDetail"]["ErrorCode"] == "AlreadyExistsException"

    def values(expression: str) -> list[list[str]]:
        parts = glue.get_partitions(DatabaseName="verkeer", TableName="raw", Expression=expression)
        return [p["Values"] for p in parts["Partitions"]]

    assert len(values("")) == 3
    assert values("day = '21' AND hour = '8'") == [["2026", "11", "21", "8"]]
    assert values("day IN ('20') OR hour > '7'") == [
        ["2026", "11", "20", "7"],
        ["2026", "11", "21", "8"],
    ]
    with pytest.raises(glue.exceptions.InvalidInputException, match="expression"):
        values("day ===")
    p = glue.get_partition(
        DatabaseName="verkeer", TableName="raw", PartitionValues=["2026", "11", "21", "8"]
    )
    assert p["Partition"]["StorageDescriptor"]["Location"].endswith(
        "raw/year=2026/month=11/day=21/hour=8/"
    )

    from trafficlake.query import run_query

    # the declared table and partitions are what the query path reads
    result = run_query(aws.settings, "SELECT count(*) FROM verkeer.raw WHERE day = '21'")
    assert result.rows[0][0] == 2 * raw_writer.lanes * 2 and len(keys) == 3
    deleted = glue.batch_delete_partition(
        DatabaseName="verkeer",
        TableName="raw",
        PartitionsToDelete=[
            {"Values": ["2026", "11", "20", "7"]},
            {"Values": ["1", "1", "1", "1"]},
        ],
    )["Errors"]
    assert [e["PartitionValues"] for e in deleted] == [["1", "1", "1", "1"]]
    assert len(values("")) == 2


def test_crawlers_report_state_and_last_crawl_as_glue_does(aws: Any, raw_writer: Any) -> None:
    glue = aws.client("glue")
    raw_writer.write_hour(aws.lake, 2026, 11, 21, 7, prefix="miv-data")
    glue.create_crawler(
        Name="RawCrawler",
        Role="arn:aws:iam::000000000000:role/glue",
        DatabaseName="verkeer",
        Targets={"S3Targets": [{"Path": "s3://anything/miv-data/"}]},
        SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "DELETE_FROM_DATABASE"},
    )
    with pytest.raises(glue.exceptions.AlreadyExistsException):
        glue.create_crawler(
            Name="RawCrawler", Role="r", Targets={"S3Targets": [{"Path": "s3://a/b/"}]}
        )
    c = glue.get_crawler(Name="RawCrawler")["Crawler"]
    assert c["State"] == "READY" and "LastCrawl" not in c
    assert c["SchemaChangePolicy"]["DeleteBehavior"] == "DELETE_FROM_DATABASE"
    assert c["Targets"]["S3Targets"][0]["Path"] == "s3://anything/miv-data/"
    # the seed's own poll: Status None until the first crawl ended
    assert c.get("LastCrawl", {"Status": None})["Status"] is None
    glue.start_crawler(Name="RawCrawler")
    with pytest.raises(glue.exceptions.CrawlerRunningException):
        glue.start_crawler(Name="RawCrawler")
    done = wait_ready(glue, "RawCrawler")
    assert done["LastCrawl"]["Status"] == "SUCCEEDED"
    t = glue.get_table(DatabaseName="verkeer", Name="miv_data")["Table"]  # '-' -> '_'
    assert [k["Name"] for k in t["PartitionKeys"]] == ["year", "month", "day", "hour"]
    assert len(glue.get_partitions(DatabaseName="verkeer", TableName="miv_data")["Partitions"]) == 1
    with pytest.raises(glue.exceptions.CrawlerNotRunningException):
        glue.stop_crawler(Name="RawCrawler")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_crawler(Name="nope")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.start_crawler(Name="nope")
    glue.update_crawler(
        Name="RawCrawler",
        TablePrefix="t_",
        RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
    )
    c = glue.get_crawler(Name="RawCrawler")["Crawler"]
    assert (
        c["TablePrefix"] == "t_"
        and c["RecrawlPolicy"]["RecrawlBehavior"] == "CRAWL_NEW_FOLDERS_ONLY"
    )
    assert "RawCrawler" in glue.list_crawlers()["CrawlerNames"]
    assert "RawCrawler" in [x["Name"] for x in glue.get_crawlers()["Crawlers"]]
    metrics = glue.get_crawler_metrics(CrawlerNameList=["RawCrawler"])["CrawlerMetricsList"][0]
    assert metrics["TablesCreated"] == 1 and metrics["TimeLeftSeconds"] == 0
    with pytest.raises(glue.exceptions.InvalidInputException):
        glue.create_crawler(Name="x", Role="r", Targets={"JdbcTargets": [{"ConnectionName": "c"}]})


def test_the_transform_is_a_glue_job_with_a_bookmark(aws: Any, raw_writer: Any) -> None:
    glue = aws.client("glue")
    raw_writer.write_hour(aws.lake, 2026, 11, 21, 7, minutes=5)
    glue.start_crawler(Name="raw")
    wait_ready(glue, "raw")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.start_job_run(JobName="repartition_job")
    glue.create_job(
        Name="repartition_job",
        Role="arn:aws:iam::000000000000:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://b/repartition.py"},
        DefaultArguments={"--job-bookmark-option": "job-bookmark-enable"},
    )
    assert glue.get_job(JobName="repartition_job")["Job"]["Command"]["Name"] == "glueetl"
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job_bookmark(JobName="repartition_job")
    run_id = glue.start_job_run(JobName="repartition_job")["JobRunId"]
    deadline = time.monotonic() + 120
    while True:
        run = glue.get_job_run(JobName="repartition_job", RunId=run_id)["JobRun"]
        if run["JobRunState"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["Arguments"]["--job-bookmark-option"] == "job-bookmark-enable"
    assert [r["Id"] for r in glue.get_job_runs(JobName="repartition_job")["JobRuns"]] == [run_id]
    entry = glue.get_job_bookmark(JobName="repartition_job")["JobBookmarkEntry"]
    assert entry["RunId"] == run_id and '"version"' in entry["JobBookmark"]
    glue.reset_job_bookmark(JobName="repartition_job")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job_bookmark(JobName="repartition_job")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job_run(JobName="repartition_job", RunId="nope")
    with pytest.raises(glue.exceptions.InvalidInputException, match="pause"):
        glue.start_job_run(
            JobName="repartition_job", Arguments={"--job-bookmark-option": "job-bookmark-pause"}
        )


def test_s3_locations_map_onto_the_lake(settings: Any) -> None:
    from trafficlake.catalog.glue import InvalidLocationError, lake_key
    from trafficlake.storage import Lake

    mapped = settings.replace(aws=type(settings.aws)(buckets={"data-bucket": "mapped/here"}))
    lake = Lake.from_settings(mapped)
    assert lake_key(mapped, lake, "s3://data-bucket/raw/") == "mapped/here/raw/"
    assert lake_key(mapped, lake, "s3://any-other/raw/x.parquet") == "raw/x.parquet"
    assert lake_key(mapped, lake, lake.uri("transformed") + "/") == "transformed/"
    assert lake_key(mapped, lake, "raw/") == "raw/"
    with pytest.raises(InvalidLocationError):
        lake_key(mapped, lake, "s3://b/../../etc/")
    with pytest.raises(InvalidLocationError):
        lake_key(mapped, lake, "/somewhere/else/")
