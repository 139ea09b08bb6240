"""AWS-area fixtures: the endpoint in a thread on loopback and boto3 clients pointed at it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest

from trafficlake.aws.server import AwsServer, serve_settings
from trafficlake.config import Settings
from trafficlake.storage import Lake

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@dataclass
class Endpoint:
    settings: Settings
    server: AwsServer
    lake: Lake

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, service: str, **config: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="eu-west-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=botocore.config.Config(retries={"total_max_attempts": 1}, **config),
        )


@pytest.fixture
def aws(settings: Settings) -> Iterator[Endpoint]:
    server = serve_settings(settings, "127.0.0.1", 0)
    server.start()
    try:
        yield Endpoint(settings, server, Lake.from_settings(settings))
    finally:
        server.shutdown()
        server.close()
