"""One behaviour suite on both engines: the same raw lake transformed by DuckDB and by Spark
(``local[2]``) through the public pipeline (land → crawl → run_transform → catalog) gives the
same rows, floats within 1e-9."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from trafficlake.transform.sql import LANE_BLOCK

pytestmark = pytest.mark.spark


@pytest.fixture
def engines(tmp_path: Path, spark_local: Any, spark_conf: dict[str, str], scale: Any) -> Any:
    """Two lakes with two catalogs: one transformed by DuckDB, one by Spark."""
    duck = scale.PipelineLake(scale.pipeline_settings(tmp_path / "duckdb"))
    # Spark gets several days per chunk (one job instead of one per day): chunking must not
    # change the rows, and fewer jobs keep the suite fast.
    spark = scale.PipelineLake(
        scale.pipeline_settings(
            tmp_path / "spark",
            extra={"transform": {"chunk_days": "7"}},
            master="local[2]",
            conf=spark_conf,
        )
    )

    class Both:
        def land(self, table: pa.Table) -> None:
            duck.land(table)
            spark.land(table)

        def crawl_and_transform(self, **kwargs: Any) -> tuple[Any, Any]:
            duck.crawl()
            spark.crawl()
            a = duck.transform(engine="duckdb", **kwargs)
            b = spark.transform(engine="spark", **kwargs)
            assert b.result["engine"] == "spark" and a.result["engine"] == "duckdb"
            assert a.result["days"] == b.result["days"]
            return a, b

        def assert_equal(self) -> pa.Table:
            left, right = duck.output(), spark.output()
            scale.assert_same_rows(left, right)
            return left

    return Both()


def _drop(table: pa.Table, mask: np.ndarray) -> pa.Table:
    return table.filter(pa.array(~mask))


def _section_minutes(table: pa.Table) -> int:
    """Distinct (section, minute) pairs with at least one valid lane (defect 0, occupancy > -1)."""
    valid = table.filter(
        pc.and_(pc.equal(table["defect"], 0), pc.greater(table["rekendata_bezettingsgraad"], -1))
    )
    return len(
        set(zip(valid["lve_nr"].to_pylist(), valid["tijd_waarneming"].to_pylist(), strict=True))
    )


def test_clean_data_over_a_day_boundary(engines: Any, scale: Any) -> None:
    day = scale.BASE_DAY
    engines.land(scale.raw_minutes(start=day - 30 * 60, minutes=90, seed=11))
    a, _ = engines.crawl_and_transform()
    out = engines.assert_equal()
    assert len(a.result["days"]) == 2
    assert out.num_rows > 0 and set(pc.unique(out["day"]).to_pylist()) == {20, 21}


def test_duplicates_and_republished_minutes(engines: Any, scale: Any) -> None:
    day = scale.BASE_DAY
    base = scale.raw_minutes(start=day + 3600, minutes=40, seed=12)
    engines.land(base)
    engines.land(base)  # at-least-once delivery: the same rows again
    # the feed republishes minutes 10..19 with a newer modification time and other values
    newer = scale.raw_minutes(start=day + 3600 + 600, minutes=10, seed=99, arrival_delay_s=200)
    newer = newer.set_column(
        newer.schema.get_field_index("tijd_laatst_gewijzigd"),
        "tijd_laatst_gewijzigd",
        pc.add(newer["tijd_laatst_gewijzigd"], 100),
    )
    engines.land(newer)
    engines.crawl_and_transform()
    out = engines.assert_equal()
    # one row per section and minute, duplicates gone, the newer versions count
    republished = pc.is_in(base["tijd_waarneming"], newer["tijd_waarneming"])
    final = pa.concat_tables([base.filter(pc.invert(republished)), newer])
    assert out.num_rows == _section_minutes(final) > 100


def _with_ids(table: pa.Table, ids: list[int | None]) -> pa.Table:
    """``table`` (scale.raw_minutes, lane ids 100..) with lane ``i``'s id replaced by ``ids[i]``."""
    lane = pc.subtract(table["unieke_id"], 100).to_pylist()
    return table.set_column(
        table.schema.get_field_index("unieke_id"),
        "unieke_id",
        pa.array([ids[i] for i in lane], pa.int32()),
    )


def test_repeated_keys_at_the_duplicate_checks_block_edges(engines: Any, scale: Any) -> None:
    """Lane ids on both sides of the duplicate check's block edges (negative ids, 0, the
    smallest and largest INT, a NULL id), half of them republished for 5 minutes with a newer
    version: the block and bit arithmetic of the check gives the same rows on both engines, and
    each newer version replaces its key's old one."""
    block = LANE_BLOCK
    ids: list[int | None] = [-(2**31), -block, -1, 0, block - 1, block, 2**31 - 1, None]
    day = scale.BASE_DAY
    base = _with_ids(scale.raw_minutes(start=day + 3600, minutes=20, sections=4, seed=13), ids)
    newer = scale.raw_minutes(
        start=day + 3600 + 300, minutes=5, sections=4, seed=98, arrival_delay_s=200
    )
    newer = _with_ids(newer.filter(pc.equal(pc.bit_wise_and(newer["unieke_id"], 1), 0)), ids)
    newer = newer.set_column(
        newer.schema.get_field_index("tijd_laatst_gewijzigd"),
        "tijd_laatst_gewijzigd",
        pc.add(newer["tijd_laatst_gewijzigd"], 100),
    )
    engines.land(base)
    engines.land(newer)
    engines.crawl_and_transform()
    out = engines.assert_equal()
    replaced = set(
        zip(newer["unieke_id"].to_pylist(), newer["tijd_waarneming"].to_pylist(), strict=True)
    )
    kept = [
        (i, t) not in replaced
        for i, t in zip(
            base["unieke_id"].to_pylist(), base["tijd_waarneming"].to_pylist(), strict=True
        )
    ]
    final = pa.concat_tables([base.filter(pa.array(kept)), newer])
    assert out.num_rows == _section_minutes(final) > 40


def test_gaps_and_a_lane_dropping_out(engines: Any, scale: Any) -> None:
    day = scale.BASE_DAY
    table = scale.raw_minutes(start=day + 7200, minutes=60, seed=13)
    rng = np.random.default_rng(5)
    t = table["tijd_waarneming"].to_numpy()
    uid = table["unieke_id"].to_numpy()
    missing_minutes = np.isin(t, day + 7200 + 60 * rng.choice(60, 8, replace=False))
    lane_out = (uid == 101) & (t >= day + 7200 + 1200) & (t < day + 7200 + 2400)
    kept = _drop(table, missing_minutes | lane_out)
    engines.land(kept)
    engines.crawl_and_transform()
    out = engines.assert_equal()
    assert out.num_rows == _section_minutes(kept) > 100
    assert set(pc.unique(out["laneCount"]).to_pylist()) <= {1, 2}


def test_late_data_second_run(engines: Any, scale: Any) -> None:
    day = scale.BASE_DAY
    engines.land(scale.raw_minutes(start=day - 3600, minutes=180, seed=14))
    engines.crawl_and_transform()
    engines.assert_equal()
    # hours later, minutes of the first day arrive late (a lane's buffered backlog)
    late = scale.raw_minutes(start=day - 1800, minutes=20, seed=15, arrival_delay_s=6 * 3600)
    late = late.filter(pc.equal(late["unieke_id"], 104))
    engines.land(late)
    a, b = engines.crawl_and_transform()
    assert a.result["mode"] == b.result["mode"]
    assert a.result["days"] == ["2026-11-20", "2026-11-21"]  # the late minutes' look-ahead
    engines.assert_equal()


def test_multi_day_with_simulator_artefacts(engines: Any, scale: Any) -> None:
    from trafficlake.miv.simulator import Simulator

    sim = Simulator(seed=3, lanes=24, clean=False)
    start = scale.BASE_DAY - 20 * 60
    batches = list(sim.minutes(start, 60))
    events = pa.Table.from_batches(batches)
    arrival = pc.multiply(pc.add(events["tijd_waarneming"], 90), 1000).cast(pa.int64())
    engines.land(events.append_column("arrival_time", arrival))
    engines.crawl_and_transform()
    engines.assert_equal()
