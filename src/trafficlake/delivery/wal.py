"""Write-ahead log: a stream acknowledges a record only after it is on disk and fsync'd.

A WAL folder holds numbered segment files, a ``LOCK`` file (one stream instance per folder) and
``OWNER.json``, the lake URL and stream name its records belong to (written atomically when a
stream first uses the folder). A folder whose segments belong to another lake or stream is refused
(:class:`WalOwnerMismatchError`): acknowledged records are never delivered into the wrong lake.
A folder without pending segments may be re-owned.
A segment is a sequence of frames::

    magic "TLW1" | kind (1 byte) | payload length (u32 LE) | crc32 of payload (u32 LE) | payload

Callers may :meth:`~WriteAheadLog.write` concurrently and then :meth:`~WriteAheadLog.sync` their
ticket: one fsync covers every frame written before it started (group commit).
Kind ``R`` carries an Arrow IPC stream of RAW_SCHEMA rows (typed, arrival time included);
kind ``J`` carries one ``put_record_batch`` call's JSON records exactly as received (arrival
time in ms (i64), record count (u32), each record's length (u32 each), then the records, each
followed by a newline), logged before they are converted so that the fsync overlaps the
conversion; recovery converts them again, with the same arrival time, and gets the same rows
and errors; kind ``E`` carries a JSON object ``{"type": <error-output-type>, "records": [...]}`` of
Firehose error records. One call to :meth:`WriteAheadLog.append` writes its frames and fsyncs
once (group commit). A crash can only tear the last frame, which was never acknowledged: the
reader stops at the first frame whose magic, length or checksum does not match. Segments are
deleted (:meth:`release`) only after their records are in the lake.

Recovery (:meth:`WriteAheadLog.recover`) hands each pending segment to the stream in order. A
segment that cannot be decoded or delivered because of what it holds (a value no partition can
be rendered for, a frame that does not decode) is moved to ``undeliverable/`` beside a
``<segment>.reason`` file naming the error, and recovery goes on: one bad segment never wedges
the stream, and nothing is deleted (move a segment back into the folder to retry it). An
error of the lake itself (unreachable, full disk, no permission) stops recovery with every
segment kept, so the next start retries. Running recovery again is safe: a released segment is
gone, a set-aside one stays aside; a segment delivered but not yet released when the process
died is delivered again (at least once, like Firehose; the transform drops the duplicates).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeAlias

import pyarrow as pa

from trafficlake.delivery.errors import DeliveryError
from trafficlake.errors import StorageError, first_line

log = logging.getLogger(__name__)

MAGIC = b"TLW1"
_HEADER = struct.Struct("<4sBII")
KIND_RAW = ord("R")
KIND_ERRORS = ord("E")
KIND_JSON = ord("J")
_JSON_HEAD = struct.Struct("<qI")
_SEGMENT_GLOB = "segment-*.wal"
OWNER_FILE = "OWNER.json"
UNDELIVERABLE_DIR = "undeliverable"
"""Subfolder of segments set aside by recovery, each beside its ``.reason`` file."""
_IOV_MAX = 512  # well under every kernel's IOV_MAX (1024 on Linux)


Payload: TypeAlias = bytes | pa.Buffer | list[bytes]
"""A frame's payload: one buffer, or parts written back to back."""


class WalLockedError(DeliveryError):
    """Another process already runs a stream on this WAL folder."""


class WalOwnerMismatchError(DeliveryError):
    """The WAL folder holds acknowledged records of another lake (or stream)."""


class WalWriteError(DeliveryError):
    """The WAL could not be written or synced; the records were not acknowledged."""


@dataclass
class SegmentContents:
    """What a segment held: raw tables and error records by error-output-type."""

    path: Path
    raw: list[pa.Table] = field(default_factory=list)
    errors: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    json_calls: list[tuple[int, list[bytes]]] = field(default_factory=list)
    """JSON calls not yet converted: ``(arrival_ms, records)``."""
    torn_bytes: int = 0
    """Bytes at the end that did not form a whole, valid frame (an unacknowledged write)."""


def encode_raw(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def encode_json_call(arrival_ms: int, raw: list[bytes], joined: bytes) -> list[bytes]:
    """A ``J`` payload in two parts; ``joined`` is every record followed by a newline."""
    n = len(raw)
    return [_JSON_HEAD.pack(arrival_ms, n) + struct.pack(f"<{n}I", *map(len, raw)), joined]


def decode_json_call(payload: bytes) -> tuple[int, list[bytes]]:
    arrival_ms, n = _JSON_HEAD.unpack_from(payload)
    pos = _JSON_HEAD.size + 4 * n
    lengths = struct.unpack_from(f"<{n}I", payload, _JSON_HEAD.size)
    records = []
    for length in lengths:
        records.append(payload[pos : pos + length])
        pos += length + 1
    if pos != len(payload):
        raise ValueError("JSON frame lengths do not add up")
    return arrival_ms, records


def encode_errors(error_type: str, records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"type": error_type, "records": records}, separators=(",", ":")).encode()


def _write_all(fd: int, parts: list[bytes | memoryview]) -> None:
    """Write every part, in order, with as few ``writev`` calls as the kernel allows (one)."""
    while parts:
        done = os.writev(fd, parts[:_IOV_MAX])
        while parts and done >= len(parts[0]):
            done -= len(parts[0])
            parts = parts[1:]
        if parts and done:
            parts = [memoryview(parts[0])[done:], *parts[1:]]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe(owner: Mapping[str, Any]) -> str:
    return f"lake {owner.get('lake', '?')} (stream {owner.get('stream', '?')})"


def read_owner(directory: Path) -> dict[str, Any] | None:
    """The folder's ``OWNER.json``, or None if it has none (or it is unreadable)."""
    try:
        obj = json.loads((directory / OWNER_FILE).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _write_owner(directory: Path, owner: Mapping[str, Any], sync: bool) -> None:
    """Write ``OWNER.json`` atomically (temporary file, fsync, rename, fsync the folder)."""
    tmp = directory / (OWNER_FILE + ".tmp")
    with open(tmp, "wb") as f:
        f.write(json.dumps(dict(owner), sort_keys=True).encode())
        if sync:
            os.fsync(f.fileno())
    os.replace(tmp, directory / OWNER_FILE)
    if sync:
        _fsync_dir(directory)


def read_segment(path: Path) -> SegmentContents:
    """Decode every whole frame of a segment; a torn or corrupt tail is counted, not read."""
    data = path.read_bytes()
    out = SegmentContents(path)
    pos = 0
    while pos < len(data):
        if len(data) - pos < _HEADER.size:
            break
        magic, kind, length, crc = _HEADER.unpack_from(data, pos)
        start = pos + _HEADER.size
        payload = data[start : start + length]
        if magic != MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
            break
        if kind == KIND_RAW:
            with pa.ipc.open_stream(payload) as reader:
                out.raw.append(reader.read_all())
        elif kind == KIND_ERRORS:
            obj = json.loads(payload)
            out.errors.append((obj["type"], obj["records"]))
        elif kind == KIND_JSON:
            out.json_calls.append(decode_json_call(payload))
        else:
            break
        pos = start + length
    out.torn_bytes = len(data) - pos
    return out


def is_lake_error(exc: BaseException) -> bool:
    """True when delivery failed because of the lake (retry later), not the segment's data."""
    if isinstance(exc, StorageError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, OSError):  # but a time too large to render is the data's
        return exc.errno != errno.EOVERFLOW
    return type(exc).__module__.split(".")[0] in ("botocore", "boto3", "urllib3")


class WriteAheadLog:
    """Segmented, fsync'd, checksummed log in one folder, locked against a second process."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        sync: bool = True,
        owner: Mapping[str, Any] | None = None,
    ) -> None:
        """Lock the folder; with ``owner`` (``{"lake": url, "stream": name}``), claim it.

        Raises :class:`WalOwnerMismatchError` if the folder's pending segments belong to
        another owner; a folder without pending segments is re-owned.
        """
        self.directory = Path(directory)
        self.sync_enabled = sync
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.directory / "LOCK", "a+")  # noqa: SIM115 - held open
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "unknown"
            self._lock_file.close()
            raise WalLockedError(
                f"WAL folder {self.directory} is in use by another stream (pid {holder}); "
                "run one stream per WAL folder"
            ) from None
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(str(os.getpid()))
        self._lock_file.flush()
        if owner is not None:
            try:
                self._claim(owner)
            except BaseException:
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
                self._lock_file.close()
                raise
        existing = self.existing_segments() + sorted(
            (self.directory / UNDELIVERABLE_DIR).glob(_SEGMENT_GLOB)
        )
        self._next_seq = max((int(p.stem.split("-")[1]) for p in existing), default=0) + 1
        self._current: BinaryIO | None = None
        self._current_path: Path | None = None
        self._closed_segments: list[Path] = []
        self._cond = threading.Condition()
        self._written = 0
        self._synced = 0
        self._syncing = False

    def _claim(self, owner: Mapping[str, Any]) -> None:
        current = read_owner(self.directory)
        if current == dict(owner):
            return
        pending = [p for p in self.existing_segments() if p.stat().st_size > 0]
        if pending and current is not None:  # a folder from before OWNER.json is adopted
            raise WalOwnerMismatchError(
                f"WAL folder {self.directory} holds {len(pending)} segment(s) of acknowledged "
                f"records for {_describe(current)}, not {_describe(owner)}; refusing to "
                "deliver them elsewhere: open the stream with that lake's config to deliver "
                "them, or give this one its own delivery.wal_dir"
            )
        _write_owner(self.directory, owner, self.sync_enabled)

    def existing_segments(self) -> list[Path]:
        return sorted(self.directory.glob(_SEGMENT_GLOB))

    def _open_segment(self) -> BinaryIO:
        path = self.directory / f"segment-{self._next_seq:012d}.wal"
        self._next_seq += 1
        f = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open across appends
        if self.sync_enabled:
            _fsync_dir(self.directory)
        self._current, self._current_path = f, path
        return f

    def write(self, frames: list[tuple[int, Payload]]) -> int:
        """Write frames (not yet synced); returns the ticket to pass to :meth:`sync`."""
        parts: list[bytes | memoryview] = []
        for kind, payload in frames:  # checksums outside the lock: concurrent callers overlap
            pieces = [
                memoryview(p).cast("B")
                for p in (payload if isinstance(payload, list) else [payload])
            ]
            crc = 0
            for piece in pieces:
                crc = zlib.crc32(piece, crc)
            parts += (_HEADER.pack(MAGIC, kind, sum(map(len, pieces)), crc), *pieces)
        with self._cond:
            if not frames:
                return self._written
            try:
                f = self._current or self._open_segment()
            except OSError as exc:
                raise WalWriteError(f"cannot write the WAL in {self.directory}: {exc}") from exc
            end = os.lseek(f.fileno(), 0, os.SEEK_END)
            try:
                _write_all(f.fileno(), parts)
            except OSError as exc:
                # Cut the torn frame off and keep the segment (a full disk must not leave a
                # segment per refused call); if even that fails, later frames go to a new one.
                try:
                    os.ftruncate(f.fileno(), end)
                except OSError:
                    self._close_current()
                raise WalWriteError(f"cannot write the WAL in {self.directory}: {exc}") from exc
            self._written += sum(len(part) for part in parts)
            return self._written

    def sync(self, ticket: int) -> None:
        """Return once everything up to ``ticket`` is fsync'd (one fsync serves many callers)."""
        with self._cond:
            while self._synced < ticket:
                if self._syncing:
                    self._cond.wait()
                    continue
                target, f = self._written, self._current
                self._syncing = True
                self._cond.release()
                try:
                    if f is not None and self.sync_enabled:
                        os.fdatasync(f.fileno())
                except OSError as exc:
                    raise WalWriteError(f"cannot sync the WAL in {self.directory}: {exc}") from exc
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self._cond.notify_all()
                self._synced = max(self._synced, target)

    def _close_current(self) -> None:
        if self._current is not None:
            self._current.close()
            assert self._current_path is not None
            self._closed_segments.append(self._current_path)
            self._current = None
            self._current_path = None

    def rotate(self) -> list[Path]:
        """Sync and close the current segment; return every closed segment not yet released."""
        with self._cond:
            while self._syncing:
                self._cond.wait()
            if self._current is not None and self._synced < self._written and self.sync_enabled:
                try:
                    os.fdatasync(self._current.fileno())
                except OSError as exc:
                    raise WalWriteError(f"cannot sync the WAL in {self.directory}: {exc}") from exc
            self._synced = self._written
            self._cond.notify_all()
            self._close_current()
            return list(self._closed_segments)

    def release(self, segments: list[Path]) -> None:
        """Delete segments whose records are in the lake."""
        for path in segments:
            path.unlink(missing_ok=True)
            if path in self._closed_segments:
                self._closed_segments.remove(path)
        if segments and self.sync_enabled:
            _fsync_dir(self.directory)

    def set_aside(self, path: Path, reason: str) -> Path:
        """Move a segment to ``undeliverable/`` beside a ``.reason`` file; returns its new path."""
        folder = self.directory / UNDELIVERABLE_DIR
        folder.mkdir(exist_ok=True)
        target = folder / path.name
        (folder / (path.name + ".reason")).write_text(reason + "\n")
        os.replace(path, target)
        if path in self._closed_segments:
            self._closed_segments.remove(path)
        if self.sync_enabled:
            _fsync_dir(folder)
            _fsync_dir(self.directory)
        return target

    def set_aside_segments(self) -> list[Path]:
        """Segments recovery could not deliver, oldest first."""
        return sorted((self.directory / UNDELIVERABLE_DIR).glob(_SEGMENT_GLOB))

    def recover(self, deliver: Callable[[SegmentContents], int]) -> int:
        """Deliver every pending segment in order; returns the records ``deliver`` reported.

        A segment that fails for a reason of its own is set aside (see the module docstring);
        an error of the lake (:func:`is_lake_error`) propagates with the segment kept.
        """
        delivered = 0
        for path in self.existing_segments():
            try:
                contents = read_segment(path)
                delivered += deliver(contents)
            except Exception as exc:
                if is_lake_error(exc):
                    raise
                reason = f"{type(exc).__name__}: {first_line(exc)}"
                moved = self.set_aside(path, reason)
                log.error(
                    "WAL segment %s cannot be delivered (%s); moved to %s",
                    path.name,
                    reason,
                    moved.parent,
                )
                continue
            if contents.torn_bytes:
                log.warning(
                    "WAL segment %s: ignored a torn tail of %d bytes (never acknowledged)",
                    path.name,
                    contents.torn_bytes,
                )
            self.release([path])
        return delivered

    def close(self) -> None:
        """Close the current segment and release the folder lock (segments stay on disk)."""
        self.rotate()
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
