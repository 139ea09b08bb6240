"""Run manifests: how a writer that swaps lake files under the catalog recovers from a crash.

A writer that replaces a partition's files (the transform's commit, raw compaction) first
writes ``<staging><run>/_manifest.json`` listing the keys it is about to create (``final``)
and the keys it is about to replace (``replaced``), then moves its new files into place,
commits the catalog, and deletes the replaced files and its staging folder. Killed anywhere,
it leaves the catalog pointing at the old or the new files, never a mix, and the manifest says
which lake files may be left over: :func:`clean_stale_manifests` deletes every listed key that
no catalog partition references (new files of a run that never committed, or replaced files
of a run that committed but died before deleting them), then the run's staging folder.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Sequence

from trafficlake.catalog.base import Catalog, NoSuchPartitionError, NoSuchTableError
from trafficlake.catalog.names import TableRef
from trafficlake.storage import Lake

MANIFEST = "_manifest.json"


def write_manifest(
    lake: Lake, staging: str, run_id: str, final: Sequence[str], replaced: Sequence[str]
) -> None:
    """Record the keys run ``run_id`` is about to create and to replace (before it moves any)."""
    body = {"run_id": run_id, "final": list(final), "replaced": list(replaced)}
    lake.put_atomic(f"{staging}{run_id}/{MANIFEST}", json.dumps(body).encode())


def clean_stale_manifests(
    catalog: Catalog, lake: Lake, *, staging: str, table: TableRef, prefix: str, keep: str = ""
) -> list[str]:
    """Remove the staging folders of runs other than ``keep`` under ``staging`` (callers ensure
    no other run is alive), deleting their listed keys that the catalog does not reference.
    ``prefix`` is the table's lake folder (partition values are read from keys below it).
    Returns the run ids cleaned."""
    cleaned: list[str] = []
    for folder in lake.list_dirs(staging):
        run_id = posixpath.basename(folder.rstrip("/"))
        if run_id == keep:
            continue
        manifest_key = f"{staging}{run_id}/{MANIFEST}"
        if lake.exists(manifest_key):
            manifest = json.loads(lake.read_bytes(manifest_key))
            keys = list(manifest.get("final", [])) + list(manifest.get("replaced", []))
            referenced = referenced_keys(catalog, keys, table, prefix)
            for key in keys:
                if key not in referenced:
                    lake.delete(key)
        lake.delete_prefix(f"{staging}{run_id}")
        cleaned.append(run_id)
    return cleaned


def referenced_keys(
    catalog: Catalog, keys: Iterable[str], table: TableRef, prefix: str
) -> set[str]:
    """Which of these keys (in Hive partition folders below ``prefix``) some catalog partition
    of the table lists."""
    out: set[str] = set()
    seen: set[str] = set()
    for key in keys:
        location = posixpath.dirname(key) + "/"
        if location in seen:
            continue
        seen.add(location)
        values = tuple(
            part.split("=", 1)[1] for part in location[len(prefix) :].strip("/").split("/")
        )
        try:
            partition = catalog.get_partition(*table, values)
        except (NoSuchPartitionError, NoSuchTableError):
            continue
        out.update(f.key for f in partition.files)
    return out
