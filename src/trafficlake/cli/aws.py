"""``trafficlake aws serve``: Firehose, Glue, Step Functions, EventBridge, Athena and Lambda on
one local endpoint (boto3 / the AWS SDKs with ``endpoint_url`` or ``AWS_ENDPOINT_URL``)."""

from __future__ import annotations

import gc
import signal
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trafficlake.cli.common import App, ConfigOpt, console, settings

if TYPE_CHECKING:
    from trafficlake.aws.server import AwsServer

group = App(help="The local AWS endpoint.", no_args_is_help=True)

HostOpt = Annotated[str | None, typer.Option(help="Address to bind (default: loopback).")]
PortOpt = Annotated[int | None, typer.Option(help="Port (0 picks a free one).")]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        help="Shared secret clients send as their AWS access key id or X-Trafficlake-Token.",
        envvar=["TRAFFICLAKE_AWS_TOKEN", "TRAFFICLAKE_FIREHOSE_TOKEN"],
    ),
]
InsecureOpt = Annotated[
    bool,
    typer.Option("--insecure", help="Allow a non-loopback --host without a token."),
]


def run_server(server: AwsServer) -> None:
    """Serve until SIGTERM or Ctrl-C, then close (flushing delivery streams) and report."""

    def _stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    from trafficlake.aws.endpoint import EndpointServices
    from trafficlake.events.bus import Dispatcher

    dispatcher = Dispatcher(
        server.endpoint.context.settings, lambda: EndpointServices(server.endpoint)
    )
    dispatcher.start()  # EventBridge rules: scheduled fires and put/emitted events
    previous = signal.signal(signal.SIGTERM, _stop)
    # What start-up made (modules, the open services) lives as long as the process: out of
    # the collector's way, a full collection (~17 ms over ~110k objects) no longer stalls a
    # call now and then.
    gc.freeze()
    services = ", ".join(sorted(server.endpoint.by_service))
    firehose = server.endpoint.by_service.get("firehose")
    streams = sorted(getattr(firehose, "streams", {}))
    # The first stdout line names the bound port (tests and scripts read it).
    print(
        f"listening on {server.url} (services: {services}; streams: {', '.join(streams)})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        dispatcher.stop()
        server.close()
        signal.signal(signal.SIGTERM, previous)
    for stream in getattr(firehose, "streams", {}).values():
        s = stream.stats()
        console.print(
            f"stream {s['stream']}: {s['records']} records, {s['errors']} errors, "
            f"{s['files_written']} files written, {s['recovered_records']} recovered from the WAL"
        )


@group.command()
def serve(
    host: HostOpt = None,
    port: PortOpt = None,
    token: TokenOpt = None,
    insecure: InsecureOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Serve the AWS APIs until SIGTERM (host, port, token: the aws section, 127.0.0.1:4566)."""
    from trafficlake.aws.server import serve_settings

    run_server(serve_settings(settings(config), host, port, token, insecure))


def register(app: typer.Typer) -> None:
    """Add ``aws`` to the root app."""
    app.add_typer(group, name="aws")
