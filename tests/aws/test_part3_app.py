"""Acceptance: a part-3 shaped Serverless app (state machine file with placeholder Lambda ARNs,
four Python handlers calling glue and athena through boto3) runs to SUCCEEDED against a real
``trafficlake aws serve``, started by boto3's stepfunctions.start_execution."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from aws_helpers import boto, start_endpoint

from trafficlake.config import load_settings
from trafficlake.storage import Lake

APP = Path(__file__).parent / "apps" / "part3"


@pytest.mark.slow
def test_part3_state_machine_runs_to_succeeded(tmp_path: Path, raw_writer: Any) -> None:
    app = tmp_path / "app"
    shutil.copytree(APP, app)
    settings = load_settings(app / "trafficlake.toml")
    lake = Lake.from_settings(settings)
    for hour in (7, 8):
        raw_writer.write_hour(lake, 2026, 11, 20, hour, minutes=3)
    raw_writer.write_hour(lake, 2026, 11, 21, 7)  # another day: not inserted
    proc, url = start_endpoint(app)
    try:
        glue = boto(url, "glue")
        # resources/glue.yml (CloudFormation) declared the database, the crawler and the table
        table = glue.get_table(DatabaseName="traffic", Name="lane_minutes")["Table"]
        assert table["StorageDescriptor"]["Location"] == "s3://DeliveryBucket/lane-minutes/"
        crawler = glue.get_crawler(Name="raw-events-crawler")["Crawler"]
        assert crawler["Targets"]["S3Targets"][0]["Path"] == "s3://traffic-DeliveryBucketName/raw"
        assert crawler["Role"] == "arn:aws:iam::000000000000:role/RawCrawlerRole"
        sfn = boto(url, "stepfunctions")
        machines = {
            m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
        }
        arn = machines["TrafficBatchMachine"]
        assert arn == "arn:aws:states:us-east-1:000000000000:stateMachine:TrafficBatchMachine"
        started = sfn.start_execution(
            stateMachineArn=arn,
            name="nov-20",
            input=json.dumps({"year": 2026, "month": 11, "day": 20}),
        )
        deadline = time.monotonic() + 180
        while True:
            ex = sfn.describe_execution(executionArn=started["executionArn"])
            if ex["status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        history = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
        assert ex["status"] == "SUCCEEDED", (ex.get("error"), ex.get("cause"), history[-3:])
        entered = [
            e["stateEnteredEventDetails"]["name"]
            for e in history
            if "stateEnteredEventDetails" in e
        ]
        assert entered[:3] == ["StartRawCrawl", "WaitForCrawl", "CrawlState"]
        assert entered[-1] == "Done" and "InsertLaneMinutes" in entered

        athena = boto(url, "athena")
        qid = athena.start_query_execution(
            QueryString="SELECT day, sum(observations) FROM traffic.lane_minutes GROUP BY day",
            ResultConfiguration={"OutputLocation": "s3://athena-results/check/"},
        )["QueryExecutionId"]
        while athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"][
            "State"
        ] in ("QUEUED", "RUNNING"):
            time.sleep(0.05)
        rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
        values = [[c.get("VarCharValue") for c in r["Data"]] for r in rows[1:]]
        assert values == [["20", str(2 * 3 * raw_writer.lanes)]]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_the_same_file_runs_with_workflow_run_and_its_lambdas_call_back(
    tmp_path: Path, raw_writer: Any, monkeypatch: Any
) -> None:
    """Outside `aws serve`: `workflow run resources/sm.yml` gives the run a private endpoint
    (which declares the resources of serverless.yml, as `aws serve` does)."""
    from typer.testing import CliRunner

    from trafficlake.cli import app as cli

    app = tmp_path / "app"
    shutil.copytree(APP, app)
    monkeypatch.chdir(app)
    for name in [k for k in __import__("os").environ if k.startswith(("TRAFFICLAKE_", "AWS_"))]:
        monkeypatch.delenv(name)
    settings = load_settings(app / "trafficlake.toml")
    raw_writer.write_hour(Lake.from_settings(settings), 2026, 11, 20, 7, minutes=2)
    day = json.dumps({"year": 2026, "month": 11, "day": 20})
    result = CliRunner().invoke(
        cli, ["workflow", "run", "resources/sm.yml", "--input", day, "--config", "trafficlake.toml"]
    )
    assert result.exit_code == 0, result.output
    assert "SUCCEEDED" in result.output
    from trafficlake.query import run_query

    total = run_query(settings, "SELECT sum(observations) FROM traffic.lane_minutes").rows[0][0]
    assert total == 2 * raw_writer.lanes
