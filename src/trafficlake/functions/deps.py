"""A function's dependencies, installed once into a cache, as a deployment package holds them.

Serverless packages a Python function with the ``requirements.txt`` of its code folder
(serverless-python-requirements) and a Node.js function with the ``dependencies`` of its
``package.json``; Lambda's Node.js runtimes up to 16 also provide the AWS SDK v2 (``aws-sdk``).
Here each such set is installed from PyPI (pip) or npm into ``[lambda] deps_dir/<hash>``, keyed
by its content, the first time a function needs it, and put first on the handler's path
(``PYTHONPATH`` / ``NODE_PATH``) - so a pinned ``boto3==1.14.20`` is the one the handler
imports, as on Lambda. An install that fails is one line naming the package manager's reason.
A function with its own interpreter (``python = ...``) brings its own dependencies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from trafficlake.config import LambdaFunction, Settings
from trafficlake.errors import TrafficlakeError

NODE_SDK = "aws-sdk@2"
"""What Lambda's Node.js runtimes (up to nodejs16.x) provide without packaging."""
INSTALL_TIMEOUT_S = 600
_SDK_V2 = re.compile(r"""require\(\s*['"]aws-sdk(?:/[^'"]*)?['"]\s*\)|from\s+['"]aws-sdk['"]""")
"""The handler file loads the SDK v2 (only then is it provided)."""


class DependencyError(TrafficlakeError):
    """A function's dependencies could not be installed."""


def python_requirements(settings: Settings, fn: LambdaFunction) -> list[str]:
    """The requirement lines a Python function is packaged with: its code folder's
    requirements.txt, then ``requirements`` of the function and of ``[lambda]``."""
    lines: list[str] = []
    path = settings.resolve_path(fn.code_dir or ".") / "requirements.txt"
    if path.is_file():
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if line:
                lines.append(line)
    return [*lines, *fn.requirements, *settings.lambda_.requirements]


def python_path(settings: Settings, name: str, fn: LambdaFunction, python: str) -> str:
    """The folder holding the function's installed requirements ("" when it has none)."""
    reqs = python_requirements(settings, fn)
    if not reqs or fn.python:
        return ""
    version = _python_version(python)
    key = _key(["python", version, *reqs])
    target = settings.resolve_path(settings.lambda_.deps_dir) / f"python-{key}"

    def install(into: Path) -> list[str]:
        req_file = into.parent / f"{into.name}.requirements.txt"
        req_file.write_text("\n".join(reqs) + "\n", encoding="utf-8")
        return [
            python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-input", "--target", str(into), "-r", str(req_file),
        ]  # fmt: skip

    _install_once(name, target, install, "pip")
    return str(target)


def node_path(settings: Settings, name: str, fn: LambdaFunction) -> str:
    """``NODE_PATH`` folders for a Node.js function: its package.json's dependencies when they
    are not installed next to it, and the runtime's AWS SDK v2 when the handler file requires
    ``aws-sdk`` and no ``node_modules`` above it holds one."""
    code_dir = settings.resolve_path(fn.code_dir or ".")
    paths: list[str] = []
    package = _find_up(code_dir, "package.json")
    if package is not None and not (package.parent / "node_modules").is_dir():
        deps = _package_dependencies(package)
        if deps:
            target = settings.resolve_path(settings.lambda_.deps_dir) / f"node-{_key(deps)}"
            specs = [f"{k}@{v}" for k, v in deps]
            _install_once(name, target, lambda into: _npm(into, specs), "npm")
            paths.append(str(target / "node_modules"))
    file_name = fn.handler.rpartition(".")[0]
    handler = next((code_dir / f"{file_name}{ext}" for ext in (".js", ".cjs", ".mjs")
                    if (code_dir / f"{file_name}{ext}").is_file()), None)  # fmt: skip
    wants_sdk = handler is not None and _SDK_V2.search(handler.read_text("utf-8", "replace"))
    has_sdk = _find_up(code_dir, "node_modules/aws-sdk") is not None or any(
        (Path(p) / "aws-sdk").is_dir() for p in paths
    )
    if wants_sdk and not has_sdk:
        target = settings.resolve_path(settings.lambda_.deps_dir) / f"node-{_key([NODE_SDK])}"
        _install_once(name, target, lambda into: _npm(into, [NODE_SDK]), "npm")
        paths.append(str(target / "node_modules"))
    return os.pathsep.join(paths)


def _npm(into: Path, specs: list[str]) -> list[str]:
    npm = shutil.which("npm")
    if npm is None:
        raise DependencyError("npm is not installed (apt-get install npm)")
    return [npm, "install", "--prefix", str(into), "--no-audit", "--no-fund", "--silent", *specs]


def _package_dependencies(package: Path) -> list[tuple[str, str]]:
    try:
        doc = json.loads(package.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DependencyError(f"cannot read {package}: {exc}") from None
    deps = doc.get("dependencies") if isinstance(doc, dict) else None
    return sorted((str(k), str(v)) for k, v in deps.items()) if isinstance(deps, dict) else []


def _find_up(start: Path, relative: str) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / relative).exists():
            return folder / relative
    return None


def _key(parts: list[str] | list[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _python_version(python: str) -> str:
    if python == sys.executable:
        return f"{sys.version_info[0]}.{sys.version_info[1]}"
    out = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return out.stdout.strip() or python


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent invocations install once
        yield


def _install_once(name: str, target: Path, command: object, tool: str) -> None:
    """Run ``command(into)`` into a fresh folder renamed to ``target`` once it succeeded."""
    if target.is_dir():
        return
    with _locked(target.parent / f"{target.name}.lock"):
        if target.is_dir():
            return
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            argv = command(tmp)  # type: ignore[operator]
            try:
                done = subprocess.run(
                    argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
                )
            except subprocess.TimeoutExpired:
                raise DependencyError(
                    f"function {name}: {tool} install timed out after {INSTALL_TIMEOUT_S} s"
                ) from None
            if done.returncode != 0:
                lines = [ln.strip() for ln in (done.stderr or done.stdout).splitlines()]
                reason = next(
                    (ln for ln in reversed(lines) if ln.upper().startswith(("ERROR", "NPM ERR"))),
                    lines[-1] if lines else f"exit status {done.returncode}",
                )
                raise DependencyError(f"function {name}: {tool} install failed: {reason}")
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            with contextlib.suppress(OSError):
                (target.parent / f"{tmp.name}.requirements.txt").unlink()
