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
