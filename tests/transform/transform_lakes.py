"""Test lakes for the transform: raw events in arrival-hour partitions, crawled by the real
crawler into the real catalog, and the transformed table read back through the catalog."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trafficlake.catalog import Catalog, JobRun, open_catalog
from trafficlake.catalog.crawler import run_crawler
from trafficlake.config import Settings
from trafficlake.schema import EVENT_SCHEMA, RAW_SCHEMA
from trafficlake.storage import Lake
from trafficlake.transform import run_transform

DAY = 86400
T0 = 1763683200
"""2025-11-21 00:00:00 UTC."""


def lane_rows(
    lanes: Sequence[tuple[int, int]],
    minutes: Iterable[int],
    *,
    speed: Any = None,
    counts: tuple[int, int, int, int] = (3, 2, 1, 0),
    arrival_delay_s: int = 114,
    modified_delay_s: int = 74,
    **overrides: Any,
) -> pa.Table:
    """Clean raw rows for ``lanes`` [(unieke_id, lve_nr)] at the given minute starts.

    ``speed(uid, t) -> int`` gives every counted class's arithmetic and harmonic speed
    (default 100 + minute-of-hour)."""
    cols: dict[str, list[Any]] = {f.name: [] for f in RAW_SCHEMA}
    for t in minutes:
        for uid, lve in lanes:
            v = speed(uid, t) if speed else 100 + (t // 60) % 60
            row: dict[str, Any] = {
                "beschrijvende_id": f"H{uid}",
                "unieke_id": uid,
                "lve_nr": lve,
                "tijd_waarneming": t,
                "tijd_laatst_gewijzigd": t + modified_delay_s,
                "tijd_publicatie": t + arrival_delay_s,
                "actueel_publicatie": 1,
                "beschikbaar": 1,
                "defect": 0,
                "geldig": 0,
                "rekendata_bezettingsgraad": 7,
                "rekendata_beschikbaarheidsgraad": 100,
                "rekendata_onrustigheid": 0,
                "arrival_time": (t + arrival_delay_s) * 1000,
            }
            for k in range(1, 6):
                n = 1 if k == 1 else counts[k - 2]
                row[f"verkeersintensiteit_klasse{k}"] = n
                row[f"voertuigsnelheid_rekenkundig_klasse{k}"] = v if n else 0
                row[f"voertuigsnelheid_harmonisch_klasse{k}"] = v if n else 0
            row.update(overrides)
            for name, value in row.items():
                cols[name].append(value)
    return pa.Table.from_pydict(cols, schema=RAW_SCHEMA)


def with_arrival(events: pa.Table | pa.RecordBatch, delay_s: int = 2) -> pa.Table:
    """Simulator output (EVENT_SCHEMA) + arrival_time = its document's publication + delay."""
    table = pa.Table.from_batches([events]) if isinstance(events, pa.RecordBatch) else events
    table = table.select(EVENT_SCHEMA.names)
    arrival = pc.multiply(pc.add(table["tijd_publicatie"], delay_s), 1000)
    return table.append_column("arrival_time", arrival.cast(pa.int64()))


@dataclass
class LakeHarness:
    settings: Settings
    lake: Lake

    def configure(self, **transform: Any) -> None:
        """Change fields of the ``[transform]`` settings."""
        self.settings = dataclasses.replace(
            self.settings, transform=dataclasses.replace(self.settings.transform, **transform)
        )

    def catalog(self) -> Catalog:
        return open_catalog(self.settings)

    def land(self, table: pa.Table, name: str | None = None) -> list[str]:
        """Write raw rows into arrival-hour partitions (like the delivery stream)."""
        keys = []
        hours = pc.divide(table["arrival_time"], 3_600_000).to_pylist()
        for hour in sorted(set(hours)):
            part = table.filter(pc.equal(pc.divide(table["arrival_time"], 3_600_000), hour))
            dt = datetime.fromtimestamp(hour * 3600, UTC)
            key = (
                f"raw/year={dt.year}/month={dt.month}/day={dt.day}/hour={dt.hour}/"
                f"{name or 'stream'}-{uuid.uuid4().hex[:12]}.parquet"
            )
            with self.lake.open_atomic(key) as out:
                pq.write_table(part, out)
            keys.append(key)
        return keys

    def crawl(self) -> None:
        run = run_crawler(self.settings, "raw")
        assert run.status == "SUCCEEDED", run.error_message

    def land_and_crawl(self, table: pa.Table) -> None:
        self.land(table)
        self.crawl()

    def transform(self, **kwargs: Any) -> JobRun:
        run = run_transform(self.settings, **kwargs)
        assert run.state == "SUCCEEDED", run.error
        return run

    def rows(self, where: str = "TRUE") -> list[dict[str, Any]]:
        """The transformed table as readers see it: the catalog's file lists, read by DuckDB."""
        with self.catalog() as cat:
            parts = cat.list_partitions("traffic", "transformed")
        keys = [f.key for p in parts for f in p.files]
        assert len(keys) == len(set(keys)), "a file is listed twice in the catalog"
        if not keys:
            return []
        files = ", ".join(f"'{self.lake.path(k)}'" for k in keys)
        con = duckdb.connect()
        rel = con.execute(
            f"SELECT * FROM read_parquet([{files}], hive_partitioning = true) WHERE {where} "
            "ORDER BY lve_nr, recordTimestamp"
        )
        names = [d[0] for d in rel.description]
        return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


def day_of(t: int) -> date:
    return datetime.fromtimestamp(t, UTC).date()
