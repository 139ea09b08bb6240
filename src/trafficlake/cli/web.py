"""``trafficlake serve``: the web dashboard and JSON API (``trafficlake.web``) on uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from trafficlake.cli.common import ConfigOpt, err_console, settings


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default: web.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: web.port, 8080).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the dashboard (GET /) and the read-only JSON API (/api/...) over the catalog."""
    from trafficlake.errors import MissingExtraError
    from trafficlake.web import create_app

    cfg = settings(config)
    bind_host = host or cfg.web.host
    bind_port = port if port is not None else cfg.web.port
    if not 1 <= bind_port <= 65535:
        raise typer.BadParameter("must be 1..65535", param_hint="--port")
    app = create_app(cfg)  # MissingExtraError("fastapi", "web") without the extra
    try:
        import uvicorn
    except ImportError:
        raise MissingExtraError("uvicorn", "web") from None
    err_console.print(f"serving http://{bind_host}:{bind_port}/ (Ctrl+C to stop)")
    uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command()(serve)
