"""Table schemas from files and folders: partition keys from folder names, columns merged
across files (widening compatible types, naming every incompatible column and file)."""

from __future__ import annotations

from urllib.parse import unquote

from trafficlake.catalog.base import Column, Table
from trafficlake.catalog.inference import CrawlDataError, FileInfo, widen


def key_type(values: list[str]) -> str:
    """``int`` if every value is an int32, ``bigint`` if every value is an integer, else string."""
    try:
        nums = [int(v) for v in values]
    except ValueError:
        return "string"
    return "int" if all(-(2**31) <= n < 2**31 for n in nums) else "bigint"


def infer_keys(folder_names: list[tuple[str, ...]]) -> list[Column]:
    """Partition keys of folders: ``k=v`` levels give ``k``, other levels ``partition_<i>``."""
    depth = len(folder_names[0]) if folder_names else 0
    keys: list[Column] = []
    for level in range(depth):
        names = [f[level] for f in folder_names]
        split = [n.partition("=") for n in names]
        hive_keys = {k for k, eq, _ in split if eq}
        if len(hive_keys) == 1 and all(eq for _, eq, _ in split):
            key = hive_keys.pop()
            values = [unquote(v) for _, _, v in split]
        else:
            key, values = f"partition_{level}", names
        keys.append(Column(key, key_type(values)))
    return keys


def values_of(names: tuple[str, ...], keys: list[Column]) -> tuple[str, ...] | None:
    """Partition values of a folder for ``keys``, or None when the folder does not match them."""
    out: list[str] = []
    for name, key in zip(names, keys, strict=True):
        if key.name.startswith("partition_") and "=" not in name:
            out.append(name)
            continue
        k, eq, v = name.partition("=")
        if not eq or k != key.name:
            return None
        out.append(unquote(v))
    return tuple(out)


def widen_keys(keys: list[Column], values: list[tuple[str, ...]]) -> list[Column]:
    """Key types widened to hold ``values`` (an int key seeing a non-integer becomes string)."""
    out = []
    for i, key in enumerate(keys):
        seen = key_type([v[i] for v in values]) if values else key.type
        out.append(Column(key.name, widen(key.type, seen) or "string", key.comment))
    return out


def merge_schema(
    existing: Table | None, infos: list[FileInfo], keys: list[Column], target: str
) -> tuple[list[Column], str, list[str]]:
    """(columns, format, changes vs ``existing``); raises CrawlDataError naming every
    incompatible column with both files, or a target that mixes formats."""
    cols = {c.name: c.type for c in existing.columns} if existing else {}
    origin = {c.name: "the catalog" for c in existing.columns} if existing else {}
    fmts = {existing.format} if existing else set()
    conflicts: list[str] = []
    changes: list[str] = []
    key_names = {k.name for k in keys}
    for info in infos:
        fmts.add(info.format)
        for c in info.columns:
            if c.name in key_names:
                continue
            if c.name not in cols:
                cols[c.name], origin[c.name] = c.type, info.key
                if existing:
                    changes.append(f"added column {c.name} {c.type} (from {info.key})")
                continue
            merged = widen(cols[c.name], c.type)
            if merged is None:
                conflicts.append(
                    f"column {c.name}: {c.type} in {info.key} is incompatible with {cols[c.name]} "
                    f"in {origin[c.name]}"
                )
            elif merged != cols[c.name]:
                if existing and c.name in {x.name for x in existing.columns}:
                    changes.append(
                        f"widened column {c.name} {cols[c.name]} -> {merged} (from {info.key})"
                    )
                cols[c.name] = merged
    if conflicts:
        raise CrawlDataError(f"incompatible types under {target}: " + "; ".join(conflicts))
    if len(fmts) > 1:
        raise CrawlDataError(f"target {target} mixes formats {sorted(fmts)}")
    return [Column(n, t) for n, t in cols.items()], (fmts.pop() if fmts else "parquet"), changes
