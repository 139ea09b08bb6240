"""The web dashboard and read-only JSON API over the catalog (``trafficlake serve``).

``create_app(settings)`` builds the FastAPI app; the queries it answers live in
:mod:`trafficlake.web.data` (no web framework there). Needs the ``web`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trafficlake.errors import MissingExtraError

if TYPE_CHECKING:
    from trafficlake.config import Settings


def create_app(settings: Settings, **options: Any) -> Any:
    """The FastAPI app serving ``settings``' catalog and lake (see :func:`web.app.create_app`)."""
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(exc.name or "fastapi", "web") from None
    from trafficlake.web.app import create_app as _create_app

    return _create_app(settings, **options)


__all__ = ["create_app"]
