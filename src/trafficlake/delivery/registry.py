"""The streams one ``firehose serve`` process serves: the configured one plus created ones.

``CreateDeliveryStream`` definitions are saved as ``<wal_dir>/<name>/stream.json`` next to the
stream's WAL, so a restarted server re-opens them (and delivers what their WAL holds).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from trafficlake.config import Settings
from trafficlake.delivery.stream import DeliveryStream, InvalidArgumentError
from trafficlake.errors import TrafficlakeError
from trafficlake.storage import Lake

DEFINITION_FILE = "stream.json"
_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")


class StreamExistsError(TrafficlakeError):
    """CreateDeliveryStream for a name already in use (AWS ResourceInUseException)."""


class StreamRegistry:
    """Named delivery streams sharing one lake and one WAL root."""

    def __init__(self, settings: Settings, lake: Lake | None = None) -> None:
        self.settings = settings
        self.lake = lake or Lake.from_settings(settings)
        d = settings.delivery
        self.wal_root = settings.resolve_path(d.wal_dir) if d.wal_dir else None
        self.streams: dict[str, DeliveryStream] = {}
        self._lock = threading.Lock()

    def open(self) -> StreamRegistry:
        """Open the configured stream and every saved definition; close all on failure."""
        try:
            configured = DeliveryStream.from_settings(self.settings, self.lake)
            self.streams[configured.name] = configured
            if self.wal_root is not None and self.wal_root.is_dir():
                for path in sorted(self.wal_root.glob(f"*/{DEFINITION_FILE}")):
                    name = path.parent.name
                    if name not in self.streams:
                        self.streams[name] = self._build(name, json.loads(path.read_text()))
        except BaseException:
            self.close()
            raise
        return self

    def _build(self, name: str, destination: dict[str, Any]) -> DeliveryStream:
        d = self.settings.delivery
        hints = destination.get("BufferingHints") or {}
        if not isinstance(hints, dict):
            raise InvalidArgumentError("BufferingHints must be an object")
        return DeliveryStream(
            self.lake,
            name,
            prefix=destination.get("Prefix") or d.prefix,
            error_prefix=destination.get("ErrorOutputPrefix") or d.error_prefix,
            buffer_size_mb=hints.get("SizeInMBs", d.buffer_size_mb),
            buffer_interval_s=hints.get("IntervalInSeconds", d.buffer_interval_s),
            format=d.format,
            compression=d.compression,
            wal_dir=(self.wal_root / name) if self.wal_root is not None else None,
        )

    def create(self, name: str, destination: dict[str, Any]) -> DeliveryStream:
        """Create (and persist) a stream with a Firehose S3 destination configuration."""
        if not isinstance(name, str) or not _NAME.match(name) or name.startswith("."):
            raise InvalidArgumentError(
                "DeliveryStreamName must be 1-64 characters of a-z, A-Z, 0-9, '_', '.', '-'"
                " and not start with '.'"
            )
        keep = ("Prefix", "ErrorOutputPrefix", "BufferingHints")
        definition = {k: destination[k] for k in keep if k in destination}
        with self._lock:
            if name in self.streams:
                raise StreamExistsError(
                    f"Firehose {name} under account 000000000000 already exists"
                )
            stream = self._build(name, definition)  # validates prefixes and hints
            if self.wal_root is not None:
                (self.wal_root / name / DEFINITION_FILE).write_text(json.dumps(definition))
            self.streams[name] = stream
            return stream

    def close(self) -> None:
        """Flush and close every stream."""
        for stream in list(self.streams.values()):
            stream.close()
