"""Type mapping, widening and per-file inspection used by the crawler."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.catalog.inference import (
    CorruptFileError,
    CrawlDataError,
    hive_type,
    inspect_file,
    merge_stats,
    widen,
)
from trafficlake.config import Settings
from trafficlake.storage import FileEntry, Lake


@pytest.mark.parametrize(
    ("arrow", "hive"),
    [
        (pa.int8(), "tinyint"),
        (pa.int16(), "smallint"),
        (pa.int32(), "int"),
        (pa.int64(), "bigint"),
        (pa.float64(), "double"),
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.bool_(), "boolean"),
        (pa.timestamp("ms"), "timestamp"),
        (pa.decimal128(10, 2), "decimal(10,2)"),
        (pa.list_(pa.int32()), "array<int>"),
        (pa.struct([("a", pa.int64())]), "struct<a:bigint>"),
        (pa.dictionary(pa.int32(), pa.string()), "string"),
    ],
)
def test_hive_types(arrow: pa.DataType, hive: str) -> None:
    assert hive_type(arrow) == hive


@pytest.mark.parametrize(
    ("a", "b", "wide"),
    [
        ("tinyint", "smallint", "smallint"),
        ("smallint", "int", "int"),
        ("int", "bigint", "bigint"),
        ("bigint", "int", "bigint"),
        ("bigint", "double", "double"),
        ("float", "double", "double"),
        ("int", "float", "double"),
        ("void", "string", "string"),
        ("string", "bigint", None),
        ("boolean", "int", None),
        ("timestamp", "date", None),
    ],
)
def test_widening(a: str, b: str, wide: str | None) -> None:
    assert widen(a, b) == wide


def test_merge_stats() -> None:
    assert merge_stats({"t": (5, 9)}, {"t": (1, 7), "u": ("a", "b")}) == {
        "t": (1, 9),
        "u": ("a", "b"),
    }


def test_stats_without_footer_statistics_read_the_column(settings: Settings) -> None:
    lake = Lake.from_settings(settings)
    table = pa.table({"tijd_waarneming": pa.array([30, 10, 20], pa.int64()), "x": ["a", "b", "c"]})
    with lake.open_atomic("t/a.parquet") as out:
        pq.write_table(table, out, write_statistics=False, row_group_size=2)
    entry = FileEntry("t/a.parquet", lake.fs.get_file_info(lake.path("t/a.parquet")).size, None)
    info = inspect_file(lake, entry, "parquet", ["tijd_waarneming", "missing"])
    assert info.stats == {"tijd_waarneming": (10, 30)} and info.row_count == 3
    assert [(c.name, c.type) for c in info.columns] == [
        ("tijd_waarneming", "bigint"),
        ("x", "string"),
    ]


def test_missing_and_corrupt_files_are_named(settings: Settings) -> None:
    lake = Lake.from_settings(settings)
    with pytest.raises(CrawlDataError, match=r"t/gone\.parquet vanished"):
        inspect_file(lake, FileEntry("t/gone.parquet", 10, None), "parquet", [])
    lake.put_atomic("t/bad.parquet", b"nope")
    with pytest.raises(CorruptFileError, match=r"t/bad\.parquet"):
        inspect_file(lake, FileEntry("t/bad.parquet", 4, None), "parquet", [])
