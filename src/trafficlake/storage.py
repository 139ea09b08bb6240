"""The lake: a root URL (local folder or ``s3://bucket/prefix``) behind a pyarrow filesystem.
A local lake lists its files with :mod:`os` and makes its pyarrow filesystem on first use, so a
command that only lists (``trafficlake query``) never imports pyarrow.

Every module reads and writes the lake through :class:`Lake`. Paths given to its methods are
*relative keys* under the lake root, always with ``/`` separators (``raw/year=2026/...``).

Atomic publication: locally a file is written to a hidden temporary name in the same folder
and renamed into place; on S3 a single PUT is atomic by itself. Readers therefore never see a
partial file. Publication of *sets* of files is atomic through the catalog, not the storage.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import posixpath
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trafficlake.errors import StorageError
from trafficlake.s3 import S3Endpoint, resolve_endpoint

if TYPE_CHECKING:
    import pyarrow.fs as pafs

    from trafficlake.config import Settings


@dataclass(frozen=True)
class FileEntry:
    key: str
    """Path relative to the lake root."""
    size: int
    mtime_ns: int | None


class Lake:
    """A lake root on a pyarrow filesystem (``fs``: None for a local lake, whose filesystem is
    made when first used)."""

    def __init__(self, fs: pafs.FileSystem | None, root: str, url: str) -> None:
        self._fs = fs
        self.root = root.rstrip("/")
        self.url = url.rstrip("/")

    @property
    def fs(self) -> pafs.FileSystem:
        if self._fs is None:
            import pyarrow.fs as pafs

            self._fs = pafs.LocalFileSystem()
        return self._fs

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        s3: S3Endpoint | None = None,
        create: bool = True,
    ) -> Lake:
        """A lake at a local path or ``s3://bucket/prefix`` (``s3``: the connection, as
        :func:`trafficlake.s3.resolve_endpoint` reads it from the settings; None: AWS with the
        default credential chain)."""
        if url.startswith("s3://"):
            bucket_prefix = url[len("s3://") :].strip("/")
            if not bucket_prefix:
                raise StorageError(f"lake URL {url!r} names no bucket")
            ep = s3 or S3Endpoint("", True, "us-east-1", "", "", "", True)
            kwargs: dict[str, object] = {"region": ep.region}
            if ep.endpoint:
                kwargs["endpoint_override"] = ep.endpoint
                kwargs["scheme"] = "https" if ep.use_ssl else "http"
            if ep.access_key_id:
                kwargs["access_key"] = ep.access_key_id
                kwargs["secret_key"] = ep.secret_access_key
                if ep.session_token:
                    kwargs["session_token"] = ep.session_token
            if ep.path_style:
                kwargs["force_virtual_addressing"] = False
            import pyarrow.fs as pafs

            try:
                fs = pafs.S3FileSystem(**kwargs)  # type: ignore[arg-type]
            except Exception as exc:  # pragma: no cover - depends on pyarrow build
                raise StorageError(f"cannot open S3 lake {url}: {exc}") from None
            return cls(fs, bucket_prefix, url)
        if "://" in url and not url.startswith("file://"):
            raise StorageError(
                f"unsupported lake URL {url!r}: use a local path or s3://bucket/prefix"
            )
        path = os.path.abspath(url.removeprefix("file://"))
        if os.path.exists(path) and not os.path.isdir(path):
            raise StorageError(f"lake path {path} exists and is not a folder")
        try:
            if create:  # readers pass create=False: reading never creates a lake
                os.makedirs(path, exist_ok=True)
        except OSError as exc:  # a parent is a file, no permission, read-only file system...
            raise StorageError(f"cannot create lake folder {path}: {exc.strerror}") from None
        return cls(None, path, path)

    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = True) -> Lake:
        return cls.from_url(settings.lake_url, s3=resolve_endpoint(settings), create=create)

    # ---- paths ----------------------------------------------------------------------------
    @property
    def is_local(self) -> bool:
        if self._fs is None:
            return True
        import pyarrow.fs as pafs

        return isinstance(self._fs, pafs.LocalFileSystem)

    def path(self, key: str) -> str:
        """The filesystem path (for ``self.fs``) of a relative key."""
        key = key.lstrip("/")
        if ".." in key.split("/"):
            raise StorageError(f"lake key {key!r} escapes the lake")
        return posixpath.join(self.root, key) if key else self.root

    def uri(self, key: str) -> str:
        """A full URL of a key that other engines understand (absolute path or s3://)."""
        key = key.lstrip("/")
        return f"{self.url}/{key}" if key else self.url

    def key_of(self, path: str) -> str:
        """Inverse of :meth:`path` (also accepts :meth:`uri` output)."""
        for base in (self.url, self.root):
            if path == base:
                return ""
            if path.startswith(base + "/"):
                return path[len(base) + 1 :]
        raise StorageError(f"{path!r} is not inside the lake {self.url}")

    # ---- reading --------------------------------------------------------------------------
    def exists(self, key: str) -> bool:
        import pyarrow.fs as pafs

        info = self.fs.get_file_info(self.path(key))
        return info.type != pafs.FileType.NotFound

    def read_bytes(self, key: str) -> bytes:
        try:
            with self.fs.open_input_stream(self.path(key), compression=None) as f:
                return f.read()
        except FileNotFoundError:
            raise StorageError(f"no such file in the lake: {key}") from None

    def list(self, prefix: str = "", *, recursive: bool = True) -> builtins.list[FileEntry]:
        """Files under ``prefix`` (a folder key), sorted by key; hidden temp files excluded."""
        out: builtins.list[FileEntry] = []
        for path, size, mtime in self._files(self.path(prefix), recursive):
            key = self.key_of(path)
            if posixpath.basename(key).startswith((".", "_")):
                continue
            out.append(FileEntry(key, size, mtime))
        out.sort(key=lambda e: e.key)
        return out

    def _files(self, path: str, recursive: bool) -> Iterator[tuple[str, int, int | None]]:
        """Path, size and mtime (ns) of the files in the folder ``path`` (none when it does not
        exist); locally as pyarrow's LocalFileSystem lists them (symbolic links followed)."""
        if not self.is_local:
            import pyarrow.fs as pafs

            selector = pafs.FileSelector(path, recursive=recursive, allow_not_found=True)
            for info in self.fs.get_file_info(selector):
                if info.type == pafs.FileType.File:
                    yield info.path, info.size or 0, info.mtime_ns
            return
        try:
            entries = os.scandir(path)
        except (FileNotFoundError, NotADirectoryError):
            if path.endswith("/") or not os.path.isfile(path):
                return  # nothing there (a path under a file too), as pyarrow says
            raise  # the folder named is a file
        with entries:
            for entry in entries:
                if entry.is_dir():
                    if recursive:
                        yield from self._files(entry.path, True)
                elif entry.is_file():
                    stat = entry.stat()
                    yield entry.path, stat.st_size, stat.st_mtime_ns

    def delete_named(self, prefix: str, name_start: str) -> int:
        """Delete every file under ``prefix`` whose name starts with ``name_start``, hidden ones
        included (what a failed writer left); returns how many."""
        doomed = [
            path
            for path, _, _ in self._files(self.path(prefix), True)
            if posixpath.basename(path).startswith(name_start)
        ]
        for path in doomed:
            self.delete(self.key_of(path))
        return len(doomed)

    def list_dirs(self, prefix: str = "") -> builtins.list[str]:
        """Immediate sub-folders of ``prefix`` as keys, sorted."""
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(self.path(prefix), recursive=False, allow_not_found=True)
        dirs = [
            self.key_of(i.path)
            for i in self.fs.get_file_info(selector)
            if i.type == pafs.FileType.Directory
        ]
        return sorted(d for d in dirs if not posixpath.basename(d).startswith((".", "_")))

    # ---- writing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def open_atomic(self, key: str) -> Iterator[pafs.NativeFile]:
        """Open ``key`` for writing; it appears under its name only when the block succeeds."""
        final = self.path(key)
        parent = posixpath.dirname(final)
        if self.is_local:
            os.makedirs(parent, exist_ok=True)
            tmp = posixpath.join(parent, f".{posixpath.basename(final)}.{uuid.uuid4().hex}.tmp")
            try:
                with self.fs.open_output_stream(tmp, compression=None) as out:
                    yield out
                os.replace(tmp, final)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(tmp)
                raise
        else:
            # S3: buffer, then upload in one go. (Closing a streaming S3 upload, which
            # happens even when the block raises, would publish the partial object.)
            import pyarrow as pa

            buf = pa.BufferOutputStream()
            yield buf
            data = buf.getvalue()
            with self.fs.open_output_stream(final, compression=None) as out:
                out.write(data)

    def put_atomic(self, key: str, data: bytes) -> None:
        with self.open_atomic(key) as out:
            out.write(data)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.path(key))

    def delete_prefix(self, prefix: str) -> None:
        import pyarrow.fs as pafs

        path = self.path(prefix)
        info = self.fs.get_file_info(path)
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(path)
        elif info.type == pafs.FileType.File:
            self.fs.delete_file(path)

    def move(self, src: str, dst: str) -> None:
        """Rename locally; copy + delete on S3 (use the catalog for atomic publication)."""
        dst_path = self.path(dst)
        if self.is_local:
            os.makedirs(posixpath.dirname(dst_path), exist_ok=True)
        self.fs.move(self.path(src), dst_path)
