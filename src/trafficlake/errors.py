"""Error types shared by every area, and :func:`first_line`, the one owner of how an error
becomes a one-line reason. The CLI prints ``str(error)`` as that reason."""

from __future__ import annotations


class TrafficlakeError(Exception):
    """Base of every error trafficlake raises on purpose (bad input, bad state, bad config)."""


def first_line(exc: BaseException) -> str:
    """The first non-blank line of ``exc``'s message (stripped), or its type name when it has
    no message - never an empty reason, never a traceback."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


class ConfigError(TrafficlakeError):
    """The configuration file or an environment override is invalid."""


class StorageError(TrafficlakeError):
    """The lake cannot be read or written."""


class MissingExtraError(TrafficlakeError):
    """An optional dependency is not installed; the message names the pip extra."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(f"{module} is not installed: pip install 'trafficlake[{extra}]'")
        self.module = module
        self.extra = extra
