"""Helpers shared by the AWS tests."""

from __future__ import annotations

from typing import Any


def raw_call(url: str, target: str, body: Any) -> tuple[int, dict[str, Any]]:
    """POST a JSON 1.1 request as any client could (no SDK-side validation)."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def start_endpoint(folder: Any, *extra: str) -> tuple[Any, str]:
    """``trafficlake aws serve --port 0`` as a subprocess in ``folder``; (process, URL)."""
    import os
    import re
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAFFICLAKE_", "AWS_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trafficlake.cli", "aws", "serve", "--port", "0", *extra],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(
            f"aws serve did not start: {line} {proc.stderr.read() if proc.stderr else ''}"
        )
    return proc, f"http://127.0.0.1:{m.group(1)}"


def boto(url: str, service: str, **config: Any) -> Any:
    import boto3
    import botocore.config

    return boto3.client(
        service,
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=botocore.config.Config(retries={"total_max_attempts": 1}, **config),
    )
