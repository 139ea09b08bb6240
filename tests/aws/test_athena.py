"""boto3 (and the PyAthena DB-API client) against the endpoint's Athena API: executions in the
background, typed paged results, result files, the history, stop, work groups, error shapes."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.athena import executions
from trafficlake.aws.server import AwsServer, serve_settings
from trafficlake.config import Settings
from trafficlake.storage import Lake

OUTPUT = "s3://results-bucket/athena/"


@pytest.fixture
def server(settings: Settings) -> Iterator[AwsServer]:
    lake = Lake.from_settings(settings)
    os.makedirs(lake.path("src/d=1"), exist_ok=True)
    pq.write_table(
        pa.table({"a": pa.array(range(2500), pa.int32()),
                  "b": [None if i % 7 == 0 else f"v{i}" for i in range(2500)],
                  "f": [i / 4 for i in range(2500)]}),
        lake.path("src/d=1/f.parquet"),
    )  # fmt: skip
    srv = serve_settings(settings, "127.0.0.1", 0)
    srv.start()
    yield srv
    srv.shutdown()
    srv.close()


def client(server: AwsServer, service: str = "athena") -> Any:
    return boto3.client(service, endpoint_url=server.url, region_name="eu-west-1",
                        aws_access_key_id="k", aws_secret_access_key="s")  # fmt: skip


def run(athena: Any, sql: str, database: str = "default") -> dict[str, Any]:
    qid = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": database, "Catalog": "AwsDataCatalog"},
        ResultConfiguration={"OutputLocation": OUTPUT},
    )["QueryExecutionId"]
    for _ in range(1200):
        q = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if q["Status"]["State"] not in ("QUEUED", "RUNNING"):
            return dict(q)
        time.sleep(0.05)
    raise AssertionError(f"{sql} did not finish")


def setup_tables(athena: Any) -> None:
    assert run(athena, "CREATE DATABASE anpr")["Status"]["State"] == "SUCCEEDED"
    q = run(athena, "CREATE EXTERNAL TABLE anpr.src (a int, b string, f double) PARTITIONED BY "
                    "(d int) STORED AS PARQUET LOCATION 's3://lake-bucket/src/'")  # fmt: skip
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"]
    assert run(athena, "MSCK REPAIR TABLE anpr.src")["Status"]["State"] == "SUCCEEDED"


def test_select_results_are_typed_paged_and_written_as_athena_does(
    server: AwsServer, settings: Settings
) -> None:
    athena = client(server)
    setup_tables(athena)
    q = run(athena, "SELECT a, b, f, a / 3 AS third, d FROM src ORDER BY a", database="anpr")
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"]
    assert (q["StatementType"], q["WorkGroup"]) == ("DML", "primary")
    assert q["Statistics"]["DataScannedInBytes"] > 0
    assert q["Status"]["CompletionDateTime"] >= q["Status"]["SubmissionDateTime"]
    qid = q["QueryExecutionId"]
    assert q["ResultConfiguration"]["OutputLocation"] == f"{OUTPUT}{qid}.csv"
    pages = list(athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid))
    assert len(pages) == 3  # 2,501 rows (header first) in pages of 1,000
    meta = pages[0]["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [(c["Name"], c["Type"]) for c in meta] == [
        ("a", "integer"), ("b", "varchar"), ("f", "double"), ("third", "integer"), ("d", "integer")
    ]  # fmt: skip
    rows = [r["Data"] for p in pages for r in p["ResultSet"]["Rows"]]
    assert [d["VarCharValue"] for d in rows[0]] == ["a", "b", "f", "third", "d"]
    assert rows[1] == [{"VarCharValue": "0"}, {}, {"VarCharValue": "0.0"},
                       {"VarCharValue": "0"}, {"VarCharValue": "1"}]  # fmt: skip
    assert [d.get("VarCharValue") for d in rows[6]] == ["5", "v5", "1.25", "1", "1"]
    assert len(rows) == 2501
    # the result file: <OutputLocation>/<id>.csv (+ .metadata), every field quoted, NULL empty
    lake = Lake.from_settings(settings)
    text = lake.read_bytes(f"athena/{qid}.csv").decode()
    assert text.splitlines()[:2] == ['"a","b","f","third","d"', '"0",,"0.0","0","1"']
    assert list(csv.reader(io.StringIO(text)))[6] == ["5", "v5", "1.25", "1", "1"]
    assert lake.exists(f"athena/{qid}.csv.metadata")


def test_failures_have_athena_shapes_and_history_is_kept(server: AwsServer) -> None:
    athena = client(server)
    setup_tables(athena)
    q = run(athena, "SELECT nope FROM src", database="anpr")
    assert q["Status"]["State"] == "FAILED"
    assert q["Status"]["StateChangeReason"].startswith("COLUMN_NOT_FOUND: line 1:8: Column 'nope'")
    assert q["Status"]["AthenaError"]["ErrorCategory"] == 2
    q = run(athena, "SELECT * FROM anpr.missing")
    assert q["Status"]["StateChangeReason"] == (
        "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.anpr.missing' does not exist"
    )
    assert run(athena, "SELEC 1")["Status"]["StateChangeReason"].startswith("SYNTAX_ERROR: line 1:")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        athena.get_query_results(QueryExecutionId=q["QueryExecutionId"])
    assert info.value.response["Error"]["Code"] == "InvalidRequestException"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        athena.start_query_execution(QueryString="SELECT 1")  # no output location
    assert "No output location provided" in info.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        athena.get_query_execution(QueryExecutionId="no-such-id")
    assert info.value.response["Error"]["Code"] == "InvalidRequestException"
    # BatchGet reports unknown ids as unprocessed
    batch = athena.batch_get_query_execution(QueryExecutionIds=[q["QueryExecutionId"], "nope"])
    assert [e["QueryExecutionId"] for e in batch["QueryExecutions"]] == [q["QueryExecutionId"]]
    assert batch["UnprocessedQueryExecutionIds"][0]["QueryExecutionId"] == "nope"
    # the history, newest first, paged
    ids = [i for p in athena.get_paginator("list_query_executions").paginate(
        PaginationConfig={"PageSize": 2}) for i in p["QueryExecutionIds"]]  # fmt: skip
    assert len(ids) == 6 and ids[1] == q["QueryExecutionId"]


def test_unparseable_sql_fails_with_a_syntax_error(server: AwsServer) -> None:
    athena = client(server)
    for sql, reason in [
        ("SELEC", "SYNTAX_ERROR: line 1:1: mismatched input 'SELEC'. Expecting: 'ALTER', "),
        ("  foo bar", "SYNTAX_ERROR: line 1:3: mismatched input 'foo'. Expecting: 'ALTER', "),
        ("SELEC 1", "SYNTAX_ERROR: line 1:7: mismatched input '1'"),
        (" ", "INVALID_REQUEST: Query is empty"),
    ]:
        q = run(athena, sql)
        assert q["Status"]["State"] == "FAILED", (sql, q["Status"])
        assert q["Status"]["StateChangeReason"].startswith(reason), (sql, q["Status"])
        assert q["Status"]["AthenaError"]["ErrorCategory"] == 2


SLOW_INSERT = (  # 18.75 billion joined rows: runs until interrupted
    "INSERT INTO anpr.dst SELECT count(*), x % 3 FROM UNNEST(sequence(1, 3000)) AS u(x) "
    "CROSS JOIN anpr.src s1 CROSS JOIN anpr.src s2 GROUP BY x % 3"
)


def state(athena: Any, qid: str) -> dict[str, Any]:
    return dict(athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"])


def wait_until(what: str, condition: Any, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout:g} s")
        time.sleep(0.01)


def start_slow_insert(athena: Any, *, running: bool = True) -> str:
    qid = str(athena.start_query_execution(
        QueryString=SLOW_INSERT, ResultConfiguration={"OutputLocation": OUTPUT}
    )["QueryExecutionId"])  # fmt: skip
    if running:
        wait_until(f"{qid} RUNNING", lambda: state(athena, qid)["State"] != "QUEUED")
        assert state(athena, qid)["State"] == "RUNNING", state(athena, qid)
    return qid


def stop_and_check(athena: Any, qid: str) -> None:
    """Stop ``qid``: CANCELLED at once, and still CANCELLED once its worker let go of it."""
    athena.stop_query_execution(QueryExecutionId=qid)
    status = state(athena, qid)
    assert status["State"] == "CANCELLED", status
    assert status["StateChangeReason"] == "USER_CANCELED: Query was canceled by user"
    wait_until(f"the worker of {qid} let go", lambda: qid not in executions._LIVE)
    assert state(athena, qid) == status  # the interrupted worker recorded nothing over it


def create_dst(athena: Any) -> None:
    setup_tables(athena)
    assert run(athena, "CREATE EXTERNAL TABLE anpr.dst (n bigint) PARTITIONED BY (k int) "
               "STORED AS PARQUET LOCATION 's3://lake-bucket/dst/'")["Status"]["State"] == "SUCCEEDED"  # fmt: skip


def assert_dst_empty(athena: Any, settings: Settings) -> None:
    lake = Lake.from_settings(settings)
    assert not lake.list("dst/")
    assert not [n for _, _, names in os.walk(lake.path("dst")) for n in names]
    q = run(athena, "SHOW PARTITIONS anpr.dst")
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"]
    rows = athena.get_query_results(QueryExecutionId=q["QueryExecutionId"])["ResultSet"]["Rows"]
    assert rows == []


@pytest.mark.slow
def test_stop_cancels_and_an_interrupted_insert_leaves_nothing(
    server: AwsServer, settings: Settings
) -> None:
    athena = client(server)
    create_dst(athena)
    qid = start_slow_insert(athena)
    stop_and_check(athena, qid)
    assert_dst_empty(athena, settings)
    assert run(athena, "SELECT 1")["Status"]["State"] == "SUCCEEDED"  # no stray interrupt


@pytest.mark.slow
def test_stop_while_queued_cancels_and_it_never_runs(server: AwsServer, settings: Settings) -> None:
    athena = client(server)
    create_dst(athena)
    busy = [start_slow_insert(athena) for _ in range(executions.WORKERS)]  # every worker busy
    queued = start_slow_insert(athena, running=False)
    assert state(athena, queued)["State"] == "QUEUED"
    stop_and_check(athena, queued)
    for qid in busy:
        stop_and_check(athena, qid)
    probe = run(athena, "SELECT 1")  # runs after the queued one left the pool's queue
    assert probe["Status"]["State"] == "SUCCEEDED", probe["Status"]
    assert state(athena, queued)["State"] == "CANCELLED"
    assert_dst_empty(athena, settings)


def test_execution_parameters(server: AwsServer) -> None:
    athena = client(server)
    setup_tables(athena)
    qid = athena.start_query_execution(
        QueryString="SELECT count(*) FROM src WHERE a < ? AND b <> ?",
        ExecutionParameters=["10", "'v3'"],
        QueryExecutionContext={"Database": "anpr"},
        ResultConfiguration={"OutputLocation": OUTPUT},
    )["QueryExecutionId"]
    for _ in range(400):
        q = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if q["Status"]["State"] == "SUCCEEDED":
            break
        time.sleep(0.05)
    rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
    assert rows[1]["Data"][0]["VarCharValue"] == "7"  # 0..9 minus NULL b (0, 7) and 'v3'
    again = athena.start_query_execution(  # a retried start (same token): the same execution
        QueryString="SELECT 1", ClientRequestToken="token-1-" * 4,
        ResultConfiguration={"OutputLocation": OUTPUT},
    )["QueryExecutionId"]  # fmt: skip
    assert again == athena.start_query_execution(
        QueryString="SELECT 1", ClientRequestToken="token-1-" * 4,
        ResultConfiguration={"OutputLocation": OUTPUT},
    )["QueryExecutionId"]  # fmt: skip
    with pytest.raises(botocore.exceptions.ClientError) as info:
        athena.start_query_execution(
            QueryString="SELECT ?", ExecutionParameters=["1", "2"],
            ResultConfiguration={"OutputLocation": OUTPUT},
        )  # fmt: skip
    assert "Incorrect number of parameters" in info.value.response["Error"]["Message"]


def test_work_groups(server: AwsServer) -> None:
    athena = client(server)
    wg = athena.get_work_group(WorkGroup="primary")["WorkGroup"]
    assert (wg["Name"], wg["State"]) == ("primary", "ENABLED")
    assert (
        wg["Configuration"]["EngineVersion"]["EffectiveEngineVersion"] == "Athena engine version 3"
    )
    assert [w["Name"] for w in athena.list_work_groups()["WorkGroups"]] == ["primary"]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        athena.get_work_group(WorkGroup="other")
    assert info.value.response["Error"]["Code"] == "InvalidRequestException"


def test_pyathena_db_api_client(server: AwsServer) -> None:
    from pyathena import connect

    setup_tables(client(server))
    conn = connect(s3_staging_dir=OUTPUT, region_name="eu-west-1", endpoint_url=server.url,
                   aws_access_key_id="k", aws_secret_access_key="s", schema_name="anpr",
                   poll_interval=0.05)  # fmt: skip
    cur = conn.cursor()
    cur.execute("SELECT a, b, f, a / 2 AS half FROM src WHERE a < 3 ORDER BY a")
    assert [d[0] for d in cur.description] == ["a", "b", "f", "half"]
    assert cur.fetchall() == [(0, None, 0.0, 0), (1, "v1", 0.25, 0), (2, "v2", 0.5, 1)]
    cur.execute("SELECT count(*) FROM src")
    assert cur.fetchone() == (2500,)
    meta = cur.get_table_metadata("src")  # reflection through Athena's metadata API
    assert [c.name for c in meta.columns] == ["a", "b", "f"]
    assert [c.name for c in meta.partition_keys] == ["d"]


def test_metadata_api(server: AwsServer) -> None:
    athena = client(server)
    setup_tables(athena)
    assert athena.list_data_catalogs()["DataCatalogsSummary"][0]["CatalogName"] == "AwsDataCatalog"
    names = [d["Name"] for d in athena.list_databases(CatalogName="AwsDataCatalog")["DatabaseList"]]
    assert "anpr" in names
    tables = athena.list_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="anpr",
                                        Expression="s*")["TableMetadataList"]  # fmt: skip
    assert [t["Name"] for t in tables] == ["src"]
    meta = athena.get_table_metadata(
        CatalogName="AwsDataCatalog", DatabaseName="anpr", TableName="src"
    )["TableMetadata"]
    assert [(c["Name"], c["Type"]) for c in meta["Columns"]] == [
        ("a", "int"), ("b", "string"), ("f", "double")
    ]  # fmt: skip
    assert meta["PartitionKeys"][0]["Name"] == "d"
    for call, args in (
        (athena.get_table_metadata, {"DatabaseName": "anpr", "TableName": "nope"}),
        (athena.get_database, {"DatabaseName": "nope"}),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            call(CatalogName="AwsDataCatalog", **args)
        assert info.value.response["Error"]["Code"] == "MetadataException"
