"""``trafficlake firehose serve``: the delivery stream behind a Firehose-compatible endpoint."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from trafficlake.cli.common import ConfigOpt, console, settings

group = typer.Typer(help="The Firehose-compatible delivery stream endpoint.", no_args_is_help=True)


@group.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default: delivery.host, loopback).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default: delivery.port; 0 picks a free one).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="Shared secret clients send as their AWS access key id or X-Trafficlake-Token.",
            envvar="TRAFFICLAKE_FIREHOSE_TOKEN",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Serve PutRecord/PutRecordBatch (boto3 firehose client with endpoint_url) until SIGTERM."""
    from trafficlake.delivery.server import FirehoseServer

    server = FirehoseServer.from_settings(settings(config), host, port, token)

    def _stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, _stop)
    names = ", ".join(sorted(server.streams))
    # The first stdout line names the bound port (tests and scripts read it).
    print(f"listening on {server.url} (streams: {names})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        signal.signal(signal.SIGTERM, previous)
    stats = [s.stats() for s in server.streams.values()]
    for s in stats:
        console.print(
            f"stream {s['stream']}: {s['records']} records, {s['errors']} errors, "
            f"{s['files_written']} files written, {s['recovered_records']} recovered from the WAL"
        )


def register(app: typer.Typer) -> None:
    """Add ``firehose`` to the root app."""
    app.add_typer(group, name="firehose")
