"""Error types shared by every area. The CLI prints ``str(error)`` as a one-line reason."""

from __future__ import annotations


class TrafficlakeError(Exception):
    """Base of every error trafficlake raises on purpose (bad input, bad state, bad config)."""


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
