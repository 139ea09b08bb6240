"""The ``trafficlake`` command: a thin Typer app. Every command calls one library function."""

from __future__ import annotations

import copy
import gc
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.main
from rich.markup import escape

from trafficlake import __version__
from trafficlake.cli import aws, catalog, demo, firehose, ingest, roads, transform, web, workflow
from trafficlake.cli.common import App, ConfigOpt, console, display, err_console, process
from trafficlake.config import DEFAULT_CONFIG_NAME, write_default_config
from trafficlake.errors import TrafficlakeError

app = App(
    name="trafficlake",
    help=(
        "Turn the Flemish MIV loop-detector feed into an analysable data lake.\n\n"
        "Ingest (live, replay, simulate) lands raw events through a Firehose-style delivery "
        "stream; crawlers register them in the catalog; transform repartitions them by event "
        "time and derives speeds and traffic-jam indicators; workflow runs it all as an Amazon "
        "States Language state machine."
    ),
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        console.print(f"trafficlake {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    utc: Annotated[
        bool,
        typer.Option(
            "--utc", envvar="TRAFFICLAKE_UTC", help="Print times in UTC (default: your time zone)."
        ),
    ] = False,
) -> None:
    display.utc = utc


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path(
        DEFAULT_CONFIG_NAME
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Write a commented default trafficlake.toml."""
    written = write_default_config(path, force=force)
    console.print(f"wrote {written}")


for _module in (ingest, firehose, aws, catalog, transform, roads, workflow, demo, web):
    _module.register(app)


def _name(command: Any) -> str:
    return command.name or typer.main.get_command_name(command.callback.__name__)


def app_for(args: list[str]) -> typer.Typer:
    """The app that runs ``args``: when they name a command or group, a copy of the root
    with only that one (typer builds every command's parameters from its signature before it
    runs any: ~0.03 s for all of them); else the whole app (help, a misspelt name)."""
    name = next((a for a in args if not a.startswith("-")), None)
    commands = [c for c in app.registered_commands if _name(c) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    only = copy.copy(app)
    only.registered_commands, only.registered_groups = commands, groups
    return only


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM ends a command the way Ctrl-C does


def _typer_interrupted(exc: SystemExit) -> bool:
    """Whether Typer itself turned a Ctrl-C into this exit (it answers an uncaught
    KeyboardInterrupt with a silent exit 130); a command that said why it stopped raises its own
    ``typer.Exit(130)`` with no cause and is left alone."""
    inner = exc.__context__
    return isinstance(inner, typer.Exit) and isinstance(inner.__cause__, KeyboardInterrupt)


def main(args: list[str] | None = None) -> None:
    """The ``trafficlake`` program: one-line errors, exit 130 on Ctrl-C or SIGTERM."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        app_for(sys.argv[1:] if args is None else args)(args, prog_name="trafficlake")
    except TrafficlakeError as exc:
        # escape: a reason may contain brackets, e.g. pip install 'trafficlake[spark]'
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except OSError as exc:  # last resort (a busy port, a full disk...): one line, no traceback
        reason = exc.strerror or str(exc) or type(exc).__name__
        where = "".join(f": {f}" for f in (exc.filename, exc.filename2) if f is not None)
        err_console.print(
            f"[red]error:[/red] {escape(reason + where)}", highlight=False, soft_wrap=True
        )
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except RuntimeError as exc:
        # DuckDB answers Ctrl-C during a statement with RuntimeError("Query interrupted"),
        # caused by the KeyboardInterrupt
        if not isinstance(exc.__cause__, KeyboardInterrupt):
            raise
        err_console.print("interrupted")
        sys.exit(130)
    except SystemExit as exc:
        if _typer_interrupted(exc):
            err_console.print("interrupted")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def program() -> None:
    """The installed ``trafficlake`` and ``python -m trafficlake.cli``: :func:`main`, the
    process's last act. Its objects are left out of the garbage collection Python runs while it
    exits (``gc.freeze``): nothing is left to collect (files, connections and the catalog are
    closed by the commands; atexit handlers still run), and walking every object the imports made
    cost a query's start-up ~70 ms (SQLAlchemy's alone ~45 ms); a command that pauses the
    collector (:func:`~trafficlake.cli.common.collector_paused`) leaves it off."""
    process.ends_after_command = True
    try:
        main()
    finally:
        gc.freeze()
