"""The streams one server process serves: the configured typed stream plus created ones.

``CreateDeliveryStream`` definitions are saved as ``<wal_dir>/<name>/stream.json`` next to the
stream's WAL, so a restarted server re-opens them (and delivers what their WAL holds). A
definition is validated as AWS validates it (:mod:`trafficlake.delivery.destination`), its
prefixes are rendered and test-written before it is accepted, and at start-up a stream that no
longer opens is reported (one line, ``CREATING_FAILED`` in DescribeDeliveryStream) instead of
taking the server or the other streams down; its WAL stays untouched until it opens again.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from trafficlake.config import CRAWLED, Settings
from trafficlake.delivery.calls import AsReceived
from trafficlake.delivery.destination import (
    SUPPORTED_KEYS,
    Destination,
    InvalidDestinationError,
    check_columns,
    parse_destination,
)
from trafficlake.delivery.errors import DeliveryError
from trafficlake.delivery.output import Output
from trafficlake.delivery.partitioning import PartitionedConverter
from trafficlake.delivery.prefix import Prefix
from trafficlake.delivery.processing import ProcessedConverter
from trafficlake.delivery.stream import (
    FORMAT_CONVERSION_FAILED,
    DeliveryStream,
    InvalidArgumentError,
)
from trafficlake.errors import TrafficlakeError
from trafficlake.storage import Lake

log = logging.getLogger(__name__)

DEFINITION_FILE = "stream.json"
MAX_STREAMS = 50
"""AWS's default quota of DirectPut streams per account and region."""
MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255
ERROR_OUTPUT_TYPES = (FORMAT_CONVERSION_FAILED, "processing-failed")
_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
ACCOUNT = "000000000000"


class StreamExistsError(DeliveryError):
    """CreateDeliveryStream for a name already in use (AWS ResourceInUseException)."""


class StreamNotFoundError(DeliveryError):
    """No stream of that name (AWS ResourceNotFoundException)."""


class StreamLimitError(DeliveryError):
    """Too many streams (AWS LimitExceededException)."""


class VersionMismatchError(DeliveryError):
    """UpdateDestination named another version (AWS ConcurrentModificationException)."""


def not_found(name: str) -> StreamNotFoundError:
    return StreamNotFoundError(f"Firehose {name} under account {ACCOUNT} not found.")


def check_stream_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or name.startswith("."):
        raise InvalidArgumentError(
            "DeliveryStreamName must be 1-64 characters of a-z, A-Z, 0-9, '_', '.', '-'"
            " and not start with '.'"
        )
    return name


class StreamRegistry:
    """Named delivery streams sharing one lake and one WAL root."""

    def __init__(
        self, settings: Settings, lake: Lake | None = None, endpoint_url: str = ""
    ) -> None:
        """``endpoint_url``: the endpoint Lambda processors are handed (AWS_ENDPOINT_URL)."""
        self.settings = settings
        self.endpoint_url = endpoint_url
        self.lake = lake or Lake.from_settings(settings)
        d = settings.delivery
        self.wal_root = settings.resolve_path(d.wal_dir) if d.wal_dir else None
        self.streams: dict[str, DeliveryStream] = {}
        self.failed: dict[str, str] = {}
        """Saved streams that did not open, with the reason (their WAL is kept)."""
        self.configured = ""
        self.declared: set[str] = set()
        """Streams declared in the config (``[[streams]]``): changed there, not by the API."""
        self._lock = threading.Lock()

    # ---- opening ----------------------------------------------------------------------------
    def open(self) -> StreamRegistry:
        """Open the configured stream and every saved definition; close all on failure of the
        configured one. A saved stream that fails to open is reported and left out."""
        try:
            configured = DeliveryStream.from_settings(self.settings, self.lake)
            self.configured = configured.name
            self.streams[configured.name] = configured
            for entry in self.settings.streams:
                self.declared.add(entry.name)
                try:
                    self.streams[entry.name] = self._open_declared(entry.name, entry.destination)
                except (TrafficlakeError, OSError) as exc:
                    self.failed[entry.name] = str(exc)
                    log.error(
                        "delivery stream %s (config [[streams]]) does not open and is left out: %s",
                        entry.name,
                        exc,
                    )
            if self.wal_root is not None and self.wal_root.is_dir():
                for path in sorted(self.wal_root.glob(f"*/{DEFINITION_FILE}")):
                    name = path.parent.name
                    if name in self.streams:
                        continue
                    try:
                        self.streams[name] = self._open_saved(name, json.loads(path.read_text()))
                    except (TrafficlakeError, OSError, ValueError, KeyError, TypeError) as exc:
                        self.failed[name] = str(exc)
                        log.error("delivery stream %s does not open and is left out: %s", name, exc)
        except BaseException:
            self.close()
            raise
        return self

    def _open_declared(self, name: str, config: dict[str, Any]) -> DeliveryStream:
        check_stream_name(name)
        dest = parse_destination(config)
        columns = self._columns(dest)
        self._check_keys(name, dest)
        return self._build(name, dest, columns, 1, time.time())

    def _open_saved(self, name: str, saved: dict[str, Any]) -> DeliveryStream:
        if "ExtendedS3DestinationConfiguration" not in saved:
            raise InvalidDestinationError(
                f"{DEFINITION_FILE} of {name} has no ExtendedS3DestinationConfiguration"
            )
        dest = parse_destination(saved["ExtendedS3DestinationConfiguration"])
        columns = [tuple(c) for c in saved.get("Columns") or []]
        return self._build(
            name, dest, columns, int(saved["VersionId"]), float(saved["CreateTimestamp"])
        )

    def _build(
        self,
        name: str,
        dest: Destination,
        columns: list[tuple[str, str]],
        version: int,
        created: float,
    ) -> DeliveryStream:
        conv = dest.conversion
        error_extra: dict[str, Any] | None = None
        if conv is not None:
            converter: Any = dest.converter(columns)
            output = Output(conv.output, conv.codec, dest.file_extension, conv.parquet_options)
            error_extra = {
                "dataCatalogTable": {
                    "catalogId": None,
                    "databaseName": conv.database,
                    "tableName": conv.table,
                    "region": None,
                    "versionId": conv.version_id,
                    "catalogArn": None,
                }
            }
        else:
            converter = AsReceived()
            output = Output("records", dest.compression, dest.file_extension)
        if dest.extraction is not None:
            converter = PartitionedConverter(
                dest.extraction, converter, self._max_key_bytes(name, dest)
            )
        if dest.processor is not None:
            converter = ProcessedConverter(
                dest.processor, converter, self.settings, self.endpoint_url, stream_arn(name)
            )
        holder: dict[str, DeliveryStream] = {}

        def describe() -> dict[str, Any]:
            return describe_generic(holder["stream"], dest, created)

        stream = DeliveryStream(
            self.lake,
            name,
            prefix=dest.prefix,
            error_prefix=dest.error_prefix,
            buffer_size_mb=dest.buffer_size_mb,
            buffer_interval_s=dest.buffer_interval_s,
            wal_dir=(self.wal_root / name) if self.wal_root is not None else None,
            version=version,
            converter=converter,
            output=output,
            error_extra=error_extra,
            description=describe,
            partition_keys=dest.extraction.names if dest.extraction is not None else None,
        )
        holder["stream"] = stream
        return stream

    # ---- checks before a definition is accepted ---------------------------------------------
    def _columns(self, dest: Destination) -> list[tuple[str, str]]:
        """The schema table's columns (read now; a missing table is refused)."""
        if dest.conversion is None:
            return []
        from trafficlake.catalog import open_catalog
        from trafficlake.catalog.base import CatalogError

        c = dest.conversion
        try:
            with open_catalog(self.settings) as catalog:
                table = catalog.get_table(c.database, c.table)
        except CatalogError as exc:
            raise InvalidDestinationError(
                f"SchemaConfiguration: table {c.database}.{c.table} cannot be read: {exc}"
            ) from None
        columns = [(col.name, col.type) for col in table.columns]
        check_columns(columns, dest)
        return columns

    def _crawled_prefixes(self) -> list[str]:
        targets = set(CRAWLED)
        try:
            from trafficlake.catalog import open_catalog

            with open_catalog(self.settings) as catalog:
                for crawler in catalog.list_crawlers():
                    targets.update(t.strip("/") + "/" for t in crawler.targets if t.strip("/"))
        except TrafficlakeError as exc:
            log.warning("cannot read the crawlers' targets (%s); checking the defaults only", exc)
        return sorted(targets)

    @staticmethod
    def _sample_keys(dest: Destination, value: str = "k") -> dict[str, str] | None:
        return {k: value for k in dest.extraction.names} if dest.extraction else None

    def _max_key_bytes(self, name: str, dest: Destination) -> int:
        """The longest partition key value that keeps every object key within the limits."""
        assert dest.extraction is not None
        prefix = Prefix.parse(dest.prefix, partition_keys=dest.extraction.names)
        now = int(time.time() * 1000)
        used = len(prefix.render(now, keys=self._sample_keys(dest, "")).encode())
        uses = dest.prefix.count("!{partitionKeyFromQuery:")
        budget = MAX_KEY_BYTES - used - _object_name_bytes(name, dest)
        return max(0, min(MAX_SEGMENT_BYTES, budget // max(1, uses)))

    def _check_keys(self, name: str, dest: Destination) -> None:
        """Render both prefixes over a year of arrival times, refuse keys no store can hold or
        an error prefix inside a crawled folder, and test-write one object under each."""
        keys = dest.extraction.names if dest.extraction is not None else None
        prefix = Prefix.parse(dest.prefix, partition_keys=keys)
        errors = Prefix.parse(dest.error_prefix, error_prefix=True)
        if dest.extraction is not None and self._max_key_bytes(name, dest) < 1:
            raise InvalidDestinationError("Prefix leaves no room for the partition keys' values")
        now = datetime.now(UTC)
        instants = [
            int(datetime(now.year, month, 28, 23, 59, tzinfo=UTC).timestamp() * 1000)
            for month in range(1, 13)
        ]
        crawled = self._crawled_prefixes()
        name_len = _object_name_bytes(name, dest)
        folders: list[tuple[str, str]] = []
        for ms in instants:
            folders.append(("Prefix", prefix.render(ms, keys=self._sample_keys(dest))))
            for etype in ERROR_OUTPUT_TYPES:
                folder = errors.render(ms, etype)
                folders.append(("ErrorOutputPrefix", folder))
                inside = [t for t in crawled if folder.startswith(t)]
                if inside:
                    raise InvalidDestinationError(
                        f"ErrorOutputPrefix renders to {folder!r}, inside the crawled folder "
                        f"{inside[0]!r}: error records would stop its crawls; choose another"
                    )
        for what, folder in folders:
            key = folder + "x" * name_len
            segments = key.split("/")
            if (
                len(key.encode()) > MAX_KEY_BYTES
                or any(len(s.encode()) > MAX_SEGMENT_BYTES for s in segments)
                or any(s in (".", "..") for s in segments)
                or "//" in key
                or key.startswith("/")
            ):
                raise InvalidDestinationError(
                    f"{what} renders to {folder!r}: not a key every store can hold (at most "
                    f"{MAX_KEY_BYTES} bytes, {MAX_SEGMENT_BYTES} per folder, no '.', '..' or "
                    "empty folders)"
                )
        probes = {folders[0], folders[1]}
        if dest.extraction is not None:  # no folder named after a sample key is left behind
            probes = {("Prefix", dest.prefix.split("!{", 1)[0]), folders[1]}
        for what, folder in probes:
            probe = f"{folder}.trafficlake-probe-{uuid.uuid4().hex}"
            try:
                self.lake.put_atomic(probe, b"")
                self.lake.delete(probe)
            except (OSError, TrafficlakeError) as exc:
                raise InvalidDestinationError(
                    f"{what} renders to {folder!r}, which cannot be written: {exc}"
                ) from None

    # ---- operations -------------------------------------------------------------------------
    def create(self, name: Any, config: Any) -> DeliveryStream:
        """CreateDeliveryStream (DirectPut) with an ExtendedS3DestinationConfiguration."""
        name = check_stream_name(name)
        dest = parse_destination(config)
        with self._lock:
            if name in self.streams or name in self.failed:
                raise StreamExistsError(f"Firehose {name} under account {ACCOUNT} already exists")
            if len(self.streams) + len(self.failed) >= MAX_STREAMS:
                raise StreamLimitError(
                    f"you already have {MAX_STREAMS} delivery streams; delete one first"
                )
            columns = self._columns(dest)
            self._check_keys(name, dest)
            created = time.time()
            stream = self._build(name, dest, columns, 1, created)
            try:
                self._save(name, dest, columns, 1, created)
            except OSError as exc:
                stream.close()
                raise InvalidDestinationError(f"cannot save stream {name}: {exc}") from None
            self.streams[name] = stream
            return stream

    def _save(
        self,
        name: str,
        dest: Destination,
        columns: list[tuple[str, str]],
        version: int,
        created: float,
    ) -> None:
        if self.wal_root is None:
            return
        saved = {
            "DeliveryStreamType": "DirectPut",
            "ExtendedS3DestinationConfiguration": dest.config,
            "Columns": [list(c) for c in columns],
            "VersionId": str(version),
            "CreateTimestamp": created,
        }
        path = self.wal_root / name / DEFINITION_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(saved))
        tmp.replace(path)

    def get(self, name: Any) -> DeliveryStream:
        stream = self.streams.get(name) if isinstance(name, str) else None
        if stream is None:
            raise not_found(str(name))
        return stream

    def describe(self, name: Any) -> dict[str, Any]:
        """DescribeDeliveryStream: what runs (or why a saved stream does not)."""
        if isinstance(name, str) and name in self.failed:
            return {
                "DeliveryStreamName": name,
                "DeliveryStreamARN": stream_arn(name),
                "DeliveryStreamStatus": "CREATING_FAILED",
                "FailureDescription": {"Type": "UNKNOWN_ERROR", "Details": self.failed[name]},
                "DeliveryStreamType": "DirectPut",
                "VersionId": "1",
                "Destinations": [],
                "HasMoreDestinations": False,
            }
        return self.get(name).describe()

    def names(self) -> list[str]:
        return sorted([*self.streams, *self.failed])

    def update(self, name: Any, version_id: Any, update: Any) -> None:
        """UpdateDestination: merge the update into the configuration; the running stream
        delivers what it holds, then the new version takes over its WAL folder."""
        self._refuse_configured(name)
        with self._lock:
            stream = self.get(name)
            if not isinstance(version_id, str) or version_id != str(stream.version):
                raise VersionMismatchError(
                    f"Firehose {name} is at version {stream.version}, not {version_id!r}"
                )
            if not isinstance(update, dict):
                raise InvalidArgumentError("ExtendedS3DestinationUpdate must be an object")
            current = stream.describe()
            old = current["Destinations"][0]["ExtendedS3DestinationDescription"]
            merged = {k: v for k, v in old.items() if k in SUPPORTED_KEYS}
            merged.update(update)
            dest = parse_destination(merged)
            was = parse_destination({k: v for k, v in old.items() if k in SUPPORTED_KEYS})
            if dest.extraction is not None and was.extraction is None:
                raise InvalidArgumentError(
                    "dynamic partitioning cannot be enabled on an existing stream"
                )
            columns = self._columns(dest)
            self._check_keys(name, dest)
            created = float(current["CreateTimestamp"])
            stream.close()  # delivers the buffer; its WAL segments are released
            fresh = self._build(name, dest, columns, stream.version + 1, created)
            self._save(name, dest, columns, stream.version + 1, created)
            self.streams[name] = fresh

    def delete(self, name: Any) -> None:
        """DeleteDeliveryStream: deliver what the stream holds, then forget it."""
        self._refuse_configured(name)
        with self._lock:
            if isinstance(name, str) and name in self.failed:
                raise InvalidArgumentError(
                    f"{name} did not open ({self.failed[name]}); its WAL keeps acknowledged "
                    "records: fix its definition instead"
                )
            stream = self.get(name)
            stream.close()
            del self.streams[name]
            if self.wal_root is not None:
                folder = self.wal_root / name
                if not list(folder.glob("segment-*.wal")):
                    shutil.rmtree(folder, ignore_errors=True)
                else:
                    (folder / DEFINITION_FILE).unlink(missing_ok=True)

    def _refuse_configured(self, name: Any) -> None:
        if isinstance(name, str) and name == self.configured:
            raise InvalidArgumentError(f"{name} is the typed stream of the [delivery] settings")
        if isinstance(name, str) and name in self.declared:
            raise InvalidArgumentError(f"{name} is declared in the config ([[streams]])")

    def close(self) -> None:
        """Flush and close every stream."""
        for stream in list(self.streams.values()):
            stream.close()


def _object_name_bytes(name: str, dest: Destination) -> int:
    return len(f"{name}-999-2026-01-01-00-00-00-{uuid.uuid4()}{dest.file_extension}".encode())


def stream_arn(name: str) -> str:
    return f"arn:aws:firehose:local:{ACCOUNT}:deliverystream/{name}"


def describe_generic(stream: DeliveryStream, dest: Destination, created: float) -> dict[str, Any]:
    """A DeliveryStreamDescription of a created stream."""
    return {
        "DeliveryStreamName": stream.name,
        "DeliveryStreamARN": stream_arn(stream.name),
        "DeliveryStreamStatus": "DELETING" if stream.closed else "ACTIVE",
        "DeliveryStreamType": "DirectPut",
        "VersionId": str(stream.version),
        "CreateTimestamp": created,
        "Destinations": [
            {
                "DestinationId": "destinationId-000000000001",
                "ExtendedS3DestinationDescription": dest.describe(),
            }
        ],
        "HasMoreDestinations": False,
    }
