"""The transform's SQL: ``traffic.sql`` with its parameters filled, and the planning probe.

Both engines run exactly this text (a portable subset of DuckDB and Spark SQL). The look-back
is :data:`LOOKBACK_SECONDS`, one parameter: the 20-minute window of ``traffic.sql``, the read
set's lower bound, the probe below and the planner's day arithmetic
(:mod:`trafficlake.transform.plan`) all take it from here.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Sequence

from trafficlake.transform.engine import TransformError

LOOKBACK_SECONDS = 1140
"""19 minutes: the 20-minute window of the first minute of a day reaches back this far."""

AVG_SHORT_SECONDS = 120
"""2 minutes: the 3-minute window (``avgSpeed3Minutes``) reaches back this far."""


LANE_BLOCK = 62
"""Lane ids per block of the duplicate check (``traffic.sql`` step 2): an id's bit in its block's
BIGINT mask is ``1 << (id mod 62)``, positions 0..61 (a signed shift into bit 63 is an overflow
error in DuckDB). ``FLOOR(id / 62)`` in DOUBLE is exact for every INT id, so the block and the
position agree on both engines."""


class SqlParameterError(TransformError):
    pass


_PARAM = re.compile(r"\{([a-z_]+)\}")


def event_days_sql(view: str) -> str:
    """The planning probe (DuckDB and Spark SQL alike) over ``view``, a view of raw columns:
    distinct UTC epoch days ``d`` of the rows and ``s``, the day whose look-back each row
    feeds; stale republishes (``actueel_publicatie = 0``) left out."""
    return (
        "SELECT DISTINCT CAST(FLOOR(tijd_waarneming / 86400) AS BIGINT) AS d, "
        f"CAST(FLOOR((tijd_waarneming + {LOOKBACK_SECONDS}) / 86400) AS BIGINT) AS s "
        f"FROM {view} WHERE tijd_waarneming IS NOT NULL "
        "AND coalesce(CAST(actueel_publicatie AS INTEGER), 1) <> 0"
    )


def traffic_sql_template() -> str:
    return (importlib.resources.files("trafficlake.transform") / "traffic.sql").read_text("utf-8")


def render_traffic_sql(
    *, start: int, end: int, jam_threshold: float, locations: Sequence[int] = ()
) -> str:
    """The transform SQL for output rows with event time in ``[start, end)`` (epoch seconds)."""
    if end <= start:
        raise SqlParameterError(f"empty range [{start}, {end})")
    threshold = float(jam_threshold)
    if not 0 <= threshold <= 250:
        raise SqlParameterError(f"jam threshold {jam_threshold} km/h is not within 0..250")
    ids = sorted({int(x) for x in locations})
    params = {
        "start": str(int(start)),
        "end": str(int(end)),
        "lookback": str(LOOKBACK_SECONDS),
        "lookback_start": str(int(start) - LOOKBACK_SECONDS),
        "short_window": str(AVG_SHORT_SECONDS),
        "lane_block": str(LANE_BLOCK),
        "jam_threshold": repr(threshold),
        "location_filter": f"unieke_id IN ({', '.join(map(str, ids))})" if ids else "TRUE",
    }

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise SqlParameterError(f"traffic.sql uses unknown parameter {{{name}}}")
        return params[name]

    return _PARAM.sub(substitute, traffic_sql_template())
