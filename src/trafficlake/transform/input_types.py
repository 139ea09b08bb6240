"""Refuse raw files whose column types would lose information in the transform.

Raw files land with the integer types of ``RAW_SCHEMA``; a file written another way (a double
vehicle count of 160.5, a string) makes the crawler widen the catalog column, and the
transform, which reads the columns as integers, would round or fail row by row. Before any
chunk runs, the footers of the plan's read set are read (a file the catalog lists but the
lake lost fails the run at once, naming it) and checked: an integer column of
``RAW_SCHEMA`` held as a non-integer type fails the run with one error naming the column and
the raw partitions, unless ``transform.allow_lossy_casts`` is set (then a note says what is
cast).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq

from trafficlake.schema import RAW_SCHEMA
from trafficlake.storage import Lake
from trafficlake.transform.engine import TransformError

INTEGER_COLUMNS = {f.name: f.type for f in RAW_SCHEMA if pa.types.is_integer(f.type)}
FOOTER_WORKERS = 8
SHOWN = 5
"""Partitions named per column; the rest are counted."""


class LossyInputError(TransformError):
    """Raw files hold an integer column as a type the transform would round."""


class InputMissingError(TransformError):
    """A raw file of the read set is listed in the catalog but gone from the lake."""


def lossy_columns(lake: Lake, keys: Sequence[str]) -> dict[str, dict[str, set[str]]]:
    """``column -> {type -> raw partition folders}`` for integer columns held as non-integers."""

    def schema(key: str) -> tuple[str, pa.Schema]:
        try:
            with lake.fs.open_input_file(lake.path(key)) as f:
                return key, pq.ParquetFile(f).schema_arrow
        except FileNotFoundError:
            raise InputMissingError(
                f"raw file {key} is listed in the catalog but missing from the lake; crawl "
                "the raw table again (trafficlake crawler start raw --wait), then transform"
            ) from None

    found: dict[str, dict[str, set[str]]] = {}
    with ThreadPoolExecutor(FOOTER_WORKERS) as pool:
        for key, file_schema in pool.map(schema, [k for k in keys if k.endswith(".parquet")]):
            for field in file_schema:
                if field.name in INTEGER_COLUMNS and not pa.types.is_integer(field.type):
                    folders = found.setdefault(field.name, {}).setdefault(str(field.type), set())
                    folders.add(posixpath.dirname(key) + "/")
    return found


def describe(found: dict[str, dict[str, set[str]]]) -> str:
    parts = []
    for column, by_type in sorted(found.items()):
        for type_name, folders in sorted(by_type.items()):
            shown = ", ".join(sorted(folders)[:SHOWN])
            more = f" and {len(folders) - SHOWN} more" if len(folders) > SHOWN else ""
            parts.append(
                f"{column} is {type_name}, not {INTEGER_COLUMNS[column]}, in {shown}{more}"
            )
    return "; ".join(parts)


def check_input_types(lake: Lake, keys: Sequence[str], *, allow: bool) -> str | None:
    """Raise :class:`LossyInputError` for lossy raw columns; with ``allow``, a note instead."""
    found = lossy_columns(lake, keys)
    if not found:
        return None
    what = describe(found)
    if allow:
        return f"cast to integers (transform.allow_lossy_casts): {what}"
    raise LossyInputError(
        f"raw data would lose information in the transform: {what}; correct or remove those "
        "files, or set transform.allow_lossy_casts = true to round them"
    )
