"""A function's dependencies as its deployment package would hold them: a code folder's
requirements.txt (and ``[lambda] requirements``) installed once from PyPI, a package.json's
dependencies and the AWS SDK v2 of Lambda's older Node.js runtimes from npm; a packaged boto3
older than AWS_ENDPOINT_URL support still reaches the endpoint; a Serverless function's
``!Ref`` environment is the resource's name."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trafficlake.aws.server import serve_settings
from trafficlake.config import load_settings


def _client(url: str, service: str) -> Any:
    import boto3
    import botocore.config

    return boto3.client(
        service,
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=botocore.config.Config(retries={"total_max_attempts": 1}, read_timeout=600),
    )


def _invoke(client: Any, name: str) -> tuple[str | None, Any]:
    out = client.invoke(FunctionName=name, Payload=b"{}")
    return out.get("FunctionError"), json.loads(out["Payload"].read())


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)

    def start(overrides: dict[str, Any]) -> str:
        server = serve_settings(load_settings(None, overrides=overrides), "127.0.0.1", 0)
        server.start()
        servers.append(server)
        return str(server.url)

    servers: list[Any] = []
    yield start
    for server in servers:
        server.shutdown()
        server.close()


def test_serverless_environment_refs_are_resource_names(tmp_path: Path) -> None:
    (tmp_path / "serverless.yml").write_text(
        textwrap.dedent(
            """\
            service: refs
            provider: {name: aws, runtime: python3.11}
            functions:
              Crawl:
                handler: src/crawl.handle
                environment:
                  CRAWLER_NAME: !Ref LaneCrawler
                  BUCKET: !ImportValue shared-BucketName
            resources:
              Resources:
                LaneCrawler:
                  Type: AWS::Glue::Crawler
                  Properties:
                    Name: lanes-${self:service}
                    Role: r
                    DatabaseName: traffic
                    Targets: {S3Targets: [{Path: bucket/lanes}]}
            """
        )
    )
    (tmp_path / "trafficlake.toml").write_text(
        '[workflow]\nserverless = ["serverless.yml"]\n[lambda]\npython = "/opt/py/bin/python"\n'
    )
    settings = load_settings(tmp_path / "trafficlake.toml")
    env = settings.lambda_.functions["Crawl"].environment
    assert env["CRAWLER_NAME"] == "lanes-refs"
    assert env["BUCKET"] == "shared-BucketName"
    assert settings.lambda_.python == "/opt/py/bin/python"  # [lambda] kept next to serverless.yml


@pytest.mark.slow
def test_python_requirements_are_installed_once_and_come_first(
    tmp_path: Path, endpoint: Any
) -> None:
    code = tmp_path / "src" / "Packaged"
    code.mkdir(parents=True)
    # an old boto3 (no AWS_ENDPOINT_URL support) and a six older than the runtime's
    (code / "requirements.txt").write_text("boto3==1.14.20\nsix==1.15.0  # pinned\n")
    (code / "handler.py").write_text(
        textwrap.dedent(
            """\
            import boto3, botocore, idna, six

            glue = boto3.client("glue")


            def handle(event, context):
                state = glue.get_crawler(Name="raw")["Crawler"]["State"]
                return {"botocore": botocore.__version__, "six": six.__version__,
                        "idna": idna.__version__, "state": state}
            """
        )
    )
    broken = tmp_path / "src" / "Broken"
    broken.mkdir()
    (broken / "requirements.txt").write_text("trafficlake-no-such-package-xyz==0.0.1\n")
    (broken / "handler.py").write_text("def handle(event, context):\n    return 1\n")
    fn = {"handler": "handler.handle", "timeout_s": 60}
    url = endpoint(
        {
            "lambda": {
                "requirements": ["idna==3.4"],
                "functions": {
                    "Packaged": {**fn, "code_dir": str(code)},
                    "Broken": {**fn, "code_dir": str(broken)},
                },
            }
        }
    )
    lam = _client(url, "lambda")
    error, out = _invoke(lam, "Packaged")
    assert error is None, out
    assert out == {"botocore": "1.17.63", "six": "1.15.0", "idna": "3.4", "state": "READY"}
    installed = sorted((tmp_path / ".trafficlake" / "lambda").glob("python-*/"))
    assert len(installed) == 1
    stamp = installed[0].stat().st_mtime_ns
    assert _invoke(lam, "Packaged") == (None, out)  # the cache is reused, not reinstalled
    assert installed[0].stat().st_mtime_ns == stamp

    error, out = _invoke(lam, "Broken")
    assert error == "Unhandled"
    assert out["errorType"] == "Runtime.DependencyInstallError"
    assert "function Broken: pip install failed" in out["errorMessage"]
    assert "trafficlake-no-such-package-xyz" in out["errorMessage"]
    assert "\n" not in out["errorMessage"]


@pytest.mark.slow
def test_node_functions_get_package_dependencies_and_the_runtime_sdk(
    tmp_path: Path, endpoint: Any
) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js with npm is not installed (CI installs both)")
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "package.json").write_text(
        json.dumps({"name": "app", "dependencies": {"ms": "2.1.3"}, "devDependencies": {}})
    )
    (app / "src" / "handler.js").write_text(
        textwrap.dedent(
            """\
            "use strict";
            const AWS = require("aws-sdk");
            const ms = require("ms");
            const glue = new AWS.Glue();
            module.exports.handle = async () => {
              const out = await glue.getCrawler({ Name: "raw" }).promise();
              return { state: out.Crawler.State, hour: ms("1h"), sdk: AWS.VERSION.split(".")[0] };
            };
            """
        )
    )
    fn = {"handler": "src/handler.handle", "code_dir": str(app), "runtime": "nodejs"}
    url = endpoint({"lambda": {"functions": {"Node": {**fn, "timeout_s": 60}}}})
    error, out = _invoke(_client(url, "lambda"), "Node")
    assert error is None, out
    assert out == {"state": "READY", "hour": 3_600_000, "sdk": "2"}
    assert not (app / "node_modules").exists()  # installed in the cache, not the project


def test_handlers_start_sync_executions_and_reach_the_lakes_s3(
    tmp_path: Path, endpoint: Any
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "sync.py").write_text(
        textwrap.dedent(
            """\
            import json, os, boto3

            sfn = boto3.client("stepfunctions")


            def handle(event, context):
                out = sfn.start_sync_execution(stateMachineArn=event["arn"], input="{}")
                return {"status": out["status"], "output": json.loads(out["output"]),
                        "s3": os.environ.get("AWS_ENDPOINT_URL_S3")}
            """
        )
    )
    fn = {"handler": "sync.handle", "code_dir": str(code), "timeout_s": 30}
    url = endpoint(
        {
            "s3": {"endpoint_url": "http://127.0.0.1:9000"},
            "lambda": {"functions": {"Sync": fn}},
        }
    )
    sfn = _client(url, "stepfunctions")
    arn = sfn.create_state_machine(
        name="hello",
        roleArn="arn:aws:iam::000000000000:role/r",
        type="EXPRESS",
        definition=json.dumps(
            {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"hi": 1}, "End": True}}}
        ),
    )["stateMachineArn"]
    out = _client(url, "lambda").invoke(FunctionName="Sync", Payload=json.dumps({"arn": arn}))
    assert out.get("FunctionError") is None
    body = json.loads(out["Payload"].read())
    assert body == {"status": "SUCCEEDED", "output": {"hi": 1}, "s3": "http://127.0.0.1:9000"}


def test_serverless_delivery_streams_are_created_and_fed_by_their_functions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "publish.py").write_text(
        textwrap.dedent(
            """\
            import json, os, boto3

            firehose = boto3.client("firehose")


            def handle(event, context):
                records = [{"Data": json.dumps({"unieke_id": str(i)})} for i in range(3)]
                out = firehose.put_record_batch(
                    DeliveryStreamName=os.environ["STREAM"], Records=records)
                return {"failed": out["FailedPutCount"], "stream": os.environ["STREAM"]}
            """
        )
    )
    (tmp_path / "serverless.yml").write_text(
        textwrap.dedent(
            """\
            service: lanes
            provider: {name: aws, runtime: python3.11, region: eu-west-1}
            functions:
              Publish:
                handler: publish.handle
                module: src
                environment:
                  STREAM: !Ref LaneStream
            resources:
              Resources:
                LaneBucket:
                  Type: AWS::S3::Bucket
                LaneStream:
                  Type: AWS::KinesisFirehose::DeliveryStream
                  Properties:
                    DeliveryStreamType: DirectPut
                    ExtendedS3DestinationConfiguration:
                      BucketARN: !GetAtt LaneBucket.Arn
                      RoleARN: {"Fn::GetAtt": [LaneStreamRole, Arn]}
                      Prefix: lanes/
                      ErrorOutputPrefix: lane-errors/
                      BufferingHints: {IntervalInSeconds: 60, SizeInMBs: 1}
                      CompressionFormat: UNCOMPRESSED
            """
        )
    )
    (tmp_path / "trafficlake.toml").write_text(
        '[lake]\nurl = "./lake"\n[workflow]\nserverless = ["serverless.yml"]\n'
    )
    settings = load_settings(tmp_path / "trafficlake.toml")
    server = serve_settings(settings, "127.0.0.1", 0)
    server.start()
    try:
        firehose = _client(str(server.url), "firehose")
        described = firehose.describe_delivery_stream(DeliveryStreamName="LaneStream")
        dest = described["DeliveryStreamDescription"]["Destinations"][0]
        assert dest["ExtendedS3DestinationDescription"]["BucketARN"] == "arn:aws:s3:::LaneBucket"
        assert dest["ExtendedS3DestinationDescription"]["RoleARN"] == (
            "arn:aws:iam::000000000000:role/LaneStreamRole"
        )
        error, out = _invoke(_client(str(server.url), "lambda"), "Publish")
        assert error is None, out
        assert out == {"failed": 0, "stream": "LaneStream"}
    finally:
        server.shutdown()
        server.close()  # flushes the stream
    landed = [p for p in (tmp_path / "lake" / "lanes").rglob("*") if p.is_file()]
    text = "".join(p.read_text() for p in landed)
    assert sorted(json.loads("[" + text.replace("}{", "},{") + "]"), key=str) == [
        {"unieke_id": "0"},
        {"unieke_id": "1"},
        {"unieke_id": "2"},
    ]
