"""The traffic transform (docs/architecture.md, "The transform"): raw lane-minutes -> event-time road-section minutes.

``start_transform`` (background) and ``run_transform`` (foreground) are the entry points; the
SQL lives in ``traffic.sql``; engines implement :class:`trafficlake.transform.engine.Engine`.
"""

from __future__ import annotations

from trafficlake.transform.runs import (
    TransformProgress,
    TransformRunningError,
    explain_transform,
    run_transform,
    start_transform,
)

__all__ = [
    "TransformProgress",
    "TransformRunningError",
    "explain_transform",
    "run_transform",
    "start_transform",
]
