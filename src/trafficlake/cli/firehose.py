"""``trafficlake firehose serve``: ``aws serve`` on the delivery stream's address."""

from __future__ import annotations

import typer

from trafficlake.cli.aws import HostOpt, InsecureOpt, PortOpt, TokenOpt, run_server
from trafficlake.cli.common import App, ConfigOpt, settings

group = App(help="The Firehose-compatible delivery stream endpoint.", no_args_is_help=True)


@group.command()
def serve(
    host: HostOpt = None,
    port: PortOpt = None,
    token: TokenOpt = None,
    insecure: InsecureOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Alias of `aws serve` on the delivery section's host/port/token (127.0.0.1:4573)."""
    from trafficlake.aws.server import serve_settings

    s = settings(config)
    d = s.delivery
    run_server(
        serve_settings(
            s,
            d.host if host is None else host,
            d.port if port is None else port,
            (d.token or s.aws.token) if token is None else token,
            insecure,
        )
    )


def register(app: typer.Typer) -> None:
    """Add ``firehose`` to the root app."""
    app.add_typer(group, name="firehose")
