"""Values as they leave trafficlake: JSON-safe data and times for people - one owner of each.

:func:`jsonable` is what every JSON answer (the web API, ``--json`` on the CLI, workflow
payloads shown to users) goes through: NaN and infinities become null (JSON has neither),
times ISO text, decimals floats, bytes base64, dataclasses objects. :func:`format_time` is how
an epoch time is shown in tables, the dashboard and CLI listings.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import uuid
from dataclasses import asdict
from decimal import Decimal
from typing import Any


def jsonable(value: Any) -> Any:
    """Plain JSON values: NaN/inf become null, times ISO text, decimals floats, bytes base64."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return jsonable(float(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return jsonable(asdict(value))
    return str(value)


def format_time(epoch: float | None, *, local: bool = False, seconds: bool = True) -> str:
    """``2026-11-16 06:00:00 UTC`` (``local``: in this machine's zone, named by its
    abbreviation; without ``seconds``: to the minute); None is ``-``."""
    if epoch is None:
        return "-"
    t = dt.datetime.fromtimestamp(epoch, dt.UTC)
    if local:
        t = t.astimezone()
    return t.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")
