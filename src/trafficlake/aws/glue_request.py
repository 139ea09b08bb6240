"""Reading Glue requests: required and optional fields with Glue's InvalidInputException, and
Glue's NextToken paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trafficlake.aws.service import AwsError


def invert(d: dict[str, str]) -> dict[str, str]:
    return {v: k for k, v in d.items()}


def field(body: dict[str, Any], key: str, kind: type | tuple[type, ...] = str) -> Any:
    value = body.get(key)
    if value is None:
        raise AwsError("InvalidInputException", f"{key} is required")
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise AwsError("InvalidInputException", f"{key} has the wrong type")
    return value


def optional(body: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = body.get(key, default)
    if value is not None and not isinstance(value, kind):
        raise AwsError("InvalidInputException", f"{key} has the wrong type")
    return value


def paged(
    items: list[Any], body: dict[str, Any], key: Callable[[Any], str]
) -> tuple[list[Any], str | None]:
    """Glue paging: ``NextToken`` is the key of the last item returned."""
    token = optional(body, "NextToken", str)
    limit = optional(body, "MaxResults", int, 1000) or 1000
    if token:
        items = [i for i in items if key(i) > token]
    page = items[:limit]
    return page, (key(page[-1]) if len(items) > limit else None)
