"""Acceptance: a part-4 shaped app - an hourly cron(15 * * * ? *) rule runs a Node.js handler
(AWS SDK v3) that starts the crawler; the crawler's "Glue Crawler State Change / Succeeded"
event runs a second Node.js handler (AWS SDK v2) that starts the repartition Glue job - the transform runs
from its bookmark."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from aws_helpers import boto

from trafficlake.aws.endpoint import EndpointServices
from trafficlake.aws.server import serve_settings
from trafficlake.config import load_settings
from trafficlake.events.bus import Dispatcher
from trafficlake.storage import Lake

APP = Path(__file__).parent / "apps" / "part4"

pytestmark = [
    pytest.mark.skipif(
        shutil.which("node") is None, reason="Node.js is not installed (CI installs it)"
    ),
    pytest.mark.skipif(
        not (APP / "node_modules" / "@aws-sdk" / "client-glue").is_dir(),
        reason=f"npm packages missing: run `make npm-deps` (npm ci --prefix {APP})",
    ),
]


@pytest.mark.parametrize(
    ("config", "cron_rule", "event_rule"),
    [
        ("trafficlake.toml", "hourly-raw-crawl", "repartition-after-crawl"),
        # functions and their events read from serverless.yml, nothing declared twice
        ("trafficlake-serverless.toml", "StartRawCrawler-event-1", "StartRepartitionJob-event-1"),
    ],
)
def test_cron_rule_crawls_and_the_crawl_event_starts_the_job(
    tmp_path: Path, raw_writer: Any, config: str, cron_rule: str, event_rule: str
) -> None:
    app = tmp_path / "app"
    shutil.copytree(APP, app, symlinks=True)
    settings = load_settings(app / config)
    lake = Lake.from_settings(settings)
    raw_writer.write_hour(lake, 2026, 11, 20, 7, minutes=5)
    server = serve_settings(settings, "127.0.0.1", 0)
    server.start()
    dispatcher = Dispatcher(settings, lambda: EndpointServices(server.endpoint))
    try:
        glue = boto(server.url, "glue")
        glue.create_job(  # declared by the app's infrastructure, as CloudFormation would
            Name="repartition_job",
            Role="arn:aws:iam::000000000000:role/glue",
            Command={"Name": "glueetl", "ScriptLocation": "s3://scripts/repartition.py"},
            DefaultArguments={"--job-bookmark-option": "job-bookmark-enable"},
        )
        events = boto(server.url, "events")
        dispatcher.start_once()  # loads [[rules]]; nothing is due yet
        rules = {r["Name"]: r for r in events.list_rules()["Rules"]}
        assert rules[cron_rule]["ScheduleExpression"] == "cron(15 * * * ? *)"
        assert glue.get_crawler(Name="raw")["Crawler"].get("LastCrawl") is None

        dispatcher.tick(now=time.time() + 3600)  # an hour later: the :15 fire is due, once
        dispatcher.tick(now=time.time() + 3600)
        fired = [d for d in dispatcher.delivered if d.rule == cron_rule]
        assert len(fired) == 1 and fired[0].ok

        deadline = time.monotonic() + 120
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            dispatcher.tick()  # delivers the crawler's state-change events
            runs = glue.get_job_runs(JobName="repartition_job")["JobRuns"]
            if runs and runs[0]["JobRunState"] != "RUNNING":
                break
            time.sleep(0.2)
        assert glue.get_crawler(Name="raw")["Crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"
        assert [r["JobRunState"] for r in runs] == ["SUCCEEDED"], runs
        bookmark = glue.get_job_bookmark(JobName="repartition_job")["JobBookmarkEntry"]
        assert bookmark["RunId"] == runs[0]["Id"]
        started = [d for d in dispatcher.delivered if d.rule == event_rule]
        assert len(started) == 1 and started[0].ok
        from trafficlake.query import run_query

        rows = run_query(settings, "SELECT count(*) FROM traffic.transformed").rows[0][0]
        assert rows > 0
    finally:
        dispatcher.stop()
        server.shutdown()
        server.close()
