"""Run the ``trafficlake`` command in process, as a test helper (``from cli_runner import run_cli``).

CLI tests use this; tests that need a separate process (signals, kill -9, servers, a clean
install) spawn one with ``subprocess`` instead.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CliResult:
    """What one ``trafficlake`` invocation printed and its exit status."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str | None] | None = None
) -> CliResult:
    """Run ``trafficlake ARGS`` through the real ``main`` (its one-line errors and exit codes),
    in ``cwd``, with ``env`` overrides (None removes a variable)."""
    from typer.testing import CliRunner

    from trafficlake.cli import main

    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("TRAFFICLAKE_")}
    overrides.update(env or {})
    code = 0
    with CliRunner().isolation(env=overrides) as (out, err, _):
        previous = Path.cwd()
        if cwd is not None:
            os.chdir(cwd)
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.chdir(previous)
        return CliResult(code, out.getvalue().decode(), err.getvalue().decode())
