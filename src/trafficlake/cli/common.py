"""Shared CLI plumbing: the app class, --config/--json/--limit options, settings loading,
output (times, capped tables, JSON) and progress bars.

Output rules every command follows: times in the user's zone (``trafficlake --utc`` or
``TRAFFICLAKE_UTC=1`` for UTC), tables capped at ``--limit`` rows with a "… N more" line, key
columns (names, ids, locations) never cut: the other columns fold instead.
"""

from __future__ import annotations

import gc
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer._coercion import RuntimeParam, build_runtime_param
from typer._param_types import coerce_cli_path
from typer.core import TyperCommand, TyperGroup

from trafficlake.config import Settings, load_settings
from trafficlake.plain import format_time, jsonable

if TYPE_CHECKING:
    from rich.progress import Progress

    from trafficlake.catalog import Catalog

console = Console()
err_console = Console(stderr=True)


class _Display:
    utc = False


display = _Display()
"""Process-wide display choices set by the root command's options (``--utc``)."""


# ---- help without type placeholders --------------------------------------------------------


def _plain(params: list[Any]) -> list[Any]:
    """Flags show no placeholder, values their name (``--limit N``), never ``<int>``; plain
    values are coerced without pydantic (:class:`_PlainValue`)."""
    for p in params:
        if getattr(p, "_runtime_param", False) is None:  # typer builds it on first use
            desc = p.type_descriptor
            p._runtime_param = _PlainValue(desc.parameter_info, desc.annotation)
        if p.metavar is None:
            p.metavar = "" if getattr(p, "is_flag", False) else (p.name or "value").upper()
        if p.param_type_name == "argument":
            p.display_type_rich = _no_type  # typer prints <str> beside every argument
    return params


def _no_type(ctx: Any) -> None:
    return None


_INTEGER = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class _PlainValue(RuntimeParam):
    """Typer's coercion of a text, integer or path value, without the pydantic ``TypeAdapter``
    typer builds for every parameter (importing pydantic adds ~0.05 s to every command's
    start-up). Any other value, and every value that would not pass, goes to typer's own
    coercion, which gives the same result and says what is wrong in its words."""

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        info, kind = self.parameter_info, self.annotation
        if info.parser is None:  # a value typed on the command line, or a default
            if kind is str and isinstance(value, str):
                return value
            if kind is int and not info.clamp:
                number = (
                    int(value) if isinstance(value, str) and _INTEGER.fullmatch(value) else value
                )
                if (
                    type(number) is int
                    and (info.min is None or number >= info.min)
                    and (info.max is None or number <= info.max)
                ):
                    return number
            if kind is Path and info.path_type is None and isinstance(value, str | Path):
                # exists=, dir_okay=... are checked as typer checks them
                return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
        return build_runtime_param(param.type_descriptor)._coerce_value(value, param, ctx)


class PlainCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for p in self.get_params(ctx):
            if p.param_type_name != "argument":
                continue
            name = p.metavar + ("..." if p.nargs != 1 else "")
            pieces.append(name if p.required else f"[{name}]")
        return pieces


class PlainGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))


LAID_OUT = re.compile(r"^(\s|[-*] |\d+\. )")
"""A line that starts a list item or is indented: its paragraph keeps its line breaks."""


def reflowed(doc: str) -> str:
    """A docstring as help text: each prose paragraph on one line (Typer's rich help keeps
    the source's line breaks, which then fall mid-sentence); lists and indented blocks as
    written."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(
        p if any(LAID_OUT.match(line) for line in p.splitlines()) else " ".join(p.split())
        for p in paragraphs
    )


class App(typer.Typer):
    """``typer.Typer`` whose commands and groups print help without type placeholders."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", PlainGroup)
        kwargs.setdefault("no_args_is_help", True)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", PlainCommand)

        def register(f: Any) -> Any:
            if kwargs.get("help") is None and f.__doc__:
                kwargs["help"] = reflowed(f.__doc__)
            return typer.Typer.command(self, *args, **kwargs)(f)

        return register


# ---- options and settings ------------------------------------------------------------------

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        metavar="FILE",
        help="Config file (default: ./trafficlake.toml if present, else embedded defaults).",
        envvar="TRAFFICLAKE_CONFIG",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


LimitOpt = Annotated[
    int, typer.Option("--limit", "-n", metavar="N", help="Show at most N rows (0: all).", min=0)
]


def parse_day(value: str | date) -> date:
    """A ``YYYY-MM-DD`` option value; says what is wrong with it (format or calendar)."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise typer.BadParameter(f"{value!r} is not a date: {exc}") from None
        raise typer.BadParameter(f"{value!r} is not a day: use YYYY-MM-DD") from None


def day_option(flag: str, help: str) -> Any:
    return typer.Option(flag, metavar="DAY", parser=parse_day, help=help)


def settings(config: Path | None) -> Settings:
    return load_settings(config)


def catalog_missing(s: Settings) -> bool:
    """Whether the configured catalog is a SQLite file that does not exist yet."""
    url = s.catalog_url
    local = url.startswith("sqlite:///") and url != "sqlite:///:memory:"
    return local and not Path(url.removeprefix("sqlite:///")).exists()


def open_for_reading(s: Settings) -> Catalog:
    """The catalog for a command that only reads: when the configured SQLite file does not
    exist yet, an empty in-memory catalog - reading never creates one."""
    from trafficlake.catalog import open_catalog

    return open_catalog("sqlite:///:memory:" if catalog_missing(s) else s)


class _Process:
    ends_after_command = False
    """Set by :func:`trafficlake.cli.program`: the command is the process's last act (False
    when commands run in process, as in tests)."""


process = _Process()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for a short command that runs one job
    (``trafficlake query``): the collections it would run while SQLAlchemy, pyarrow and DuckDB
    are imported only walk the objects those imports make, none of them garbage (~0.04 s of a
    query's start-up); the command's own objects are freed by reference counting as before.
    When the process ends after the command, the collector stays off to the end (switching it
    back on would walk every object made meanwhile once more, ~0.03 s); in process it is
    switched back on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled and not process.ends_after_command:
            gc.enable()


# ---- output --------------------------------------------------------------------------------


def when(ts: float | None, *, seconds: bool = True) -> str:
    """An epoch (s) as a readable time in the user's zone (UTC with ``--utc``); None is ``-``."""
    return format_time(ts, local=not display.utc, seconds=seconds)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(value), indent=2) + "\n")


MIN_FOLDED_WIDTH = 12
TIME_COLUMN = re.compile(r"time|tijd|_at$", re.IGNORECASE)
"""Columns whose epoch values (s or ms) a table prints as times."""


def epoch_or_number(value: Any) -> str:
    """A statistic as text: integers that are plausible epochs (s or ms) as times."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 10**9 <= value < 4 * 10**9:
            return when(value)
        if 10**12 <= value < 4 * 10**12:
            return when(value / 1000)
    return cell(value)


def cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) >= 1e6 else f"{value:.6g}"
    return str(value)


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    keys: Sequence[str] = (),
    total: int | None = None,
    more_hint: str = "use --limit or --json",
    empty: str = "no rows",
    target: Console | None = None,
    title: str | None = None,
) -> None:
    """A table that never cuts a value: key columns stay whole on one line, the rest fold.

    ``rows`` is what is shown; ``total`` (when larger) adds "… N more rows (hint)".
    """
    from rich.table import Table

    out = target or console
    if not rows:
        out.print(empty, highlight=False, markup=False, soft_wrap=True)
        return
    timelike = [bool(TIME_COLUMN.search(c)) for c in columns]
    text = [
        [epoch_or_number(v) if t else cell(v) for v, t in zip(row, timelike, strict=True)]
        for row in rows
    ]
    table = Table(title=title)
    needed = 1
    for i, name in enumerate(columns):
        longest = max(len(name), *(len(r[i]) for r in text))
        if name in keys:  # whole, on one line
            table.add_column(name, no_wrap=True, min_width=longest)
            needed += longest + 3
        else:  # folded onto more lines, but never narrower than a date or a number
            width = min(longest, MIN_FOLDED_WIDTH)
            table.add_column(name, overflow="fold", min_width=width)
            needed += width + 3
    for r in text:
        table.add_row(*r)
    # Too many columns for the terminal: wider lines rather than cut or unreadable values.
    out.print(table, width=max(out.width, needed), crop=False)
    hidden = (total or 0) - len(rows)
    if hidden > 0:
        out.print(f"… {hidden:,} more rows ({more_hint})", highlight=False, markup=False)


@contextmanager
def progress(transient: bool = False) -> Iterator[Progress]:
    """A rich progress bar on stderr (hidden when stderr is not a terminal)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
        disable=not err_console.is_terminal,
    ) as bar:
        yield bar


@contextmanager
def progress_callback(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar for work that reports ``(done, total)``; yields that report function."""
    with progress() as bar:
        task = bar.add_task(description, total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield report
