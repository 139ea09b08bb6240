"""Paging as Step Functions and EventBridge do it: a page size checked against the operation's
range (AWS's ``ValidationException`` wording) and an opaque ``nextToken`` that carries the
position after the last item returned, bound to the request's other arguments ("keep all other
arguments unchanged": a token replayed with different ones is refused, as is a made-up one)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from trafficlake.aws.service import AwsError


def page_size(
    body: dict[str, Any], key: str, member: str, *, default: int, low: int, high: int
) -> int:
    """``body[key]`` within ``low..high`` (0, where allowed, means ``default``), else AWS's
    ``ValidationException`` naming ``member`` (the lower-camel name AWS reports)."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise AwsError("ValidationException", f"{key} must be an integer")
    if value < low:
        raise AwsError(
            "ValidationException",
            violation(value, member, f"have value greater than or equal to {low}"),
        )
    if value > high:
        raise AwsError(
            "ValidationException",
            violation(value, member, f"have value less than or equal to {high}"),
        )
    return value or default


def violation(value: Any, member: str, rule: str) -> str:
    """AWS's message for a request member that breaks its constraint (``rule``: what the member
    must do, e.g. ``have value less than or equal to 100``)."""
    return (
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: Member must {rule}"
    )


def _fingerprint(body: dict[str, Any], paging_keys: tuple[str, ...]) -> str:
    rest = {k: v for k, v in body.items() if k not in paging_keys}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:16]


def make_token(position: str, body: dict[str, Any], paging_keys: tuple[str, ...]) -> str:
    """The token for the page after ``position`` of the request ``body``."""
    raw = json.dumps([position, _fingerprint(body, paging_keys)]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def read_token(
    body: dict[str, Any], key: str, paging_keys: tuple[str, ...], error: str
) -> str | None:
    """The position ``body[key]`` carries (None without one); ``error`` (``InvalidToken``,
    ``ValidationException``) for a token this request did not get."""
    token = body.get(key)
    if token is None:
        return None
    try:
        position, fingerprint = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        if not isinstance(position, str) or fingerprint != _fingerprint(body, paging_keys):
            raise ValueError(token)
    except (ValueError, TypeError):
        raise AwsError(error, f"Invalid {key}: '{token}'") from None
    return position
