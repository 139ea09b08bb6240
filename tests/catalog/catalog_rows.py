"""Rows the catalog behaviour suites share: a raw table and its hour partitions."""

from __future__ import annotations

from trafficlake.catalog import Catalog, Column, DataFile, Partition, Table

KEYS = [Column("year", "int"), Column("month", "int"), Column("day", "int"), Column("hour", "int")]


def make_raw_table(cat: Catalog) -> Table:
    cat.create_database("traffic")
    return cat.create_table(
        Table(
            "traffic",
            "raw",
            [Column("unieke_id", "int"), Column("tijd_waarneming", "bigint")],
            KEYS,
            location="raw/",
            parameters={"classification": "parquet"},
        )
    )


def make_partition(
    y: int, m: int, d: int, h: int, *, lo: int = 0, hi: int = 0, rows: int = 10
) -> Partition:
    loc = f"raw/year={y}/month={m}/day={d}/hour={h}/"
    return Partition(
        "traffic",
        "raw",
        (str(y), str(m), str(d), str(h)),
        loc,
        files=[DataFile(loc + "a.parquet", 100, rows)],
        row_count=rows,
        size_bytes=100,
        stats={"tijd_waarneming": (lo, hi)} if hi else {},
    )
