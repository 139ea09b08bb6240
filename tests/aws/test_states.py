"""Step Functions through boto3: machines, executions, history, stop, errors, AWS task resources."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from aws_helpers import boto

from trafficlake.cli import app

PASS_WAIT = {
    "StartAt": "P",
    "States": {
        "P": {"Type": "Pass", "Result": {"x": 1}, "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 1, "End": True},
    },
}
ROLE = "arn:aws:iam::000000000000:role/sfn"


def wait_done(sfn: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        ex = sfn.describe_execution(executionArn=arn)
        if ex["status"] != "RUNNING" or time.monotonic() > deadline:
            return dict(ex)
        time.sleep(0.05)


def test_machines_and_executions(aws: Any) -> None:
    sfn = boto(aws.url, "stepfunctions", inject_host_prefix=False)
    arn = sfn.create_state_machine(name="m1", definition=json.dumps(PASS_WAIT), roleArn=ROLE)[
        "stateMachineArn"
    ]
    assert arn == "arn:aws:states:us-east-1:000000000000:stateMachine:m1"
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        sfn.create_state_machine(name="m1", definition=json.dumps(PASS_WAIT), roleArn=ROLE)
    with pytest.raises(sfn.exceptions.InvalidDefinition, match="Next"):
        bad = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
        sfn.create_state_machine(name="m2", definition=json.dumps(bad), roleArn=ROLE)
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.create_state_machine(name="a b", definition=json.dumps(PASS_WAIT), roleArn=ROLE)
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert json.loads(described["definition"]) == PASS_WAIT and described["roleArn"] == ROLE
    names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert {"m1", "batch"} <= set(names)  # API-created and shipped machines

    ex = sfn.start_execution(stateMachineArn=arn, name="first", input='{"a": 1}')
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="first")
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.start_execution(stateMachineArn=arn, input="{nope")
    done = wait_done(sfn, ex["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"x": 1}
    assert json.loads(done["input"]) == {"a": 1}
    types = [
        e["type"] for e in sfn.get_execution_history(executionArn=ex["executionArn"])["events"]
    ]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in listed] == ["first"]

    sync = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    assert sync["status"] == "SUCCEEDED" and json.loads(sync["output"]) == {"x": 1}

    slow = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(slow))
    long = sfn.start_execution(stateMachineArn=arn, name="long")
    sfn.stop_execution(executionArn=long["executionArn"], error="Enough", cause="test")
    stopped = wait_done(sfn, long["executionArn"])
    assert (stopped["status"], stopped["error"]) == ("ABORTED", "Enough")

    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=arn.replace("stateMachine:m1", "execution:m1:nope"))
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_execution(executionArn="arn:nope")
    with pytest.raises(sfn.exceptions.ValidationException, match="shipped"):
        sfn.delete_state_machine(
            stateMachineArn="arn:aws:states:us-east-1:000000000000:stateMachine:batch"
        )


def test_aws_sdk_and_lambda_resources(aws: Any) -> None:
    sfn = boto(aws.url, "stepfunctions")
    machine = {
        "StartAt": "Get",
        "States": {
            "Get": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:glue:getCrawler",
                "Parameters": {"Name": "raw"},
                "ResultSelector": {"State.$": "$.Crawler.State"},
                "Next": "Missing",
            },
            "Missing": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:glue:getCrawler",
                "Parameters": {"Name": "nope"},
                "Catch": [
                    {
                        "ErrorEquals": ["Glue.EntityNotFoundException"],
                        "ResultPath": "$.error",
                        "Next": "Caught",
                    }
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    arn = sfn.create_state_machine(name="sdk", definition=json.dumps(machine), roleArn=ROLE)[
        "stateMachineArn"
    ]
    ex = sfn.start_execution(stateMachineArn=arn)
    done = wait_done(sfn, ex["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    out = json.loads(done["output"])
    assert out["State"] == "READY" and out["error"]["Error"] == "Glue.EntityNotFoundException"

    lam = {
        "StartAt": "L",
        "States": {
            "L": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:#{AWS::Region}:#{AWS::AccountId}:function:${self:service}-dev-Undeclared",
                "End": True,
            }
        },
    }
    with pytest.raises(sfn.exceptions.InvalidDefinition, match=r"state 'L'.*Function not found"):
        sfn.create_state_machine(name="lam", definition=json.dumps(lam), roleArn=ROLE)


def test_workflow_validate_reads_the_serverless_layout(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    app_dir = Path(__file__).parent / "apps" / "part3"
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "workflow",
            "validate",
            str(app_dir / "serverless.yml"),
            "--config",
            str(app_dir / "trafficlake.toml"),
        ],
    )
    assert ok.exit_code == 0, ok.output
    bare = tmp_path / "t.toml"
    bare.write_text('[lake]\nurl = "./lake"\n')
    missing = runner.invoke(
        app, ["workflow", "validate", str(app_dir / "resources" / "sm.yml"), "--config", str(bare)]
    )
    assert missing.exit_code != 0
    assert "StartRawCrawl" in str(missing.exception) + missing.output


def test_optimised_integrations_wait_for_the_work(aws: Any, raw_writer: Any) -> None:
    from trafficlake.catalog.crawler import run_crawler

    raw_writer.write_hour(aws.lake, 2026, 11, 20, 7, minutes=3)
    run_crawler(aws.settings, "raw")
    sfn = boto(aws.url, "stepfunctions")
    machine = {
        "StartAt": "Job",
        "States": {
            "Job": {
                "Type": "Task",
                "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": "transform"},
                "ResultSelector": {"state.$": "$.JobRunState", "id.$": "$.Id"},
                "ResultPath": "$.job",
                "Next": "Query",
            },
            "Query": {
                "Type": "Task",
                "Resource": "arn:aws:states:::athena:startQueryExecution.sync",
                "Parameters": {
                    "QueryString": "SELECT count(*) FROM traffic.transformed",
                    "ResultConfiguration": {"OutputLocation": "s3://results/sfn/"},
                },
                "ResultSelector": {"state.$": "$.QueryExecution.Status.State"},
                "ResultPath": "$.query",
                "End": True,
            },
        },
    }
    arn = sfn.create_state_machine(name="sync", definition=json.dumps(machine), roleArn=ROLE)[
        "stateMachineArn"
    ]
    done = wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    out = json.loads(done["output"])
    assert out["job"]["state"] == "SUCCEEDED" and out["query"] == {"state": "SUCCEEDED"}
    glue = boto(aws.url, "glue")
    assert (
        glue.get_job_run(JobName="transform", RunId=out["job"]["id"])["JobRun"]["JobRunState"]
        == "SUCCEEDED"
    )


def test_a_failed_sync_query_fails_the_task_with_its_execution_as_cause(aws: Any) -> None:
    sfn = boto(aws.url, "stepfunctions")
    machine = {
        "StartAt": "Query",
        "States": {
            "Query": {
                "Type": "Task",
                "Resource": "arn:aws:states:::athena:startQueryExecution.sync",
                "Parameters": {
                    "QueryString": "SELECT * FROM traffic.no_such_table",
                    "ResultConfiguration": {"OutputLocation": "s3://results/sfn/"},
                },
                "End": True,
            },
        },
    }
    arn = sfn.create_state_machine(name="sync-fails", definition=json.dumps(machine), roleArn=ROLE)[
        "stateMachineArn"
    ]
    done = wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert done["status"] == "FAILED", done
    assert done["error"] == "States.TaskFailed"
    cause = json.loads(done["cause"])
    assert cause["QueryExecution"]["Status"]["State"] == "FAILED"
    assert "no_such_table" in cause["QueryExecution"]["Status"]["StateChangeReason"]
