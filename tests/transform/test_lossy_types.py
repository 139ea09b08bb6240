"""A raw integer column held as a double fails the transform, naming column and partitions."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from transform_lakes import T0, LakeHarness, with_arrival

from trafficlake.miv.simulator import Simulator
from trafficlake.transform import run_transform

COLUMN = "verkeersintensiteit_klasse2"


def lake_with_a_double_count(tlake: LakeHarness) -> list[str]:
    sim = Simulator(seed=3, lanes=20, clean=True)
    raw = with_arrival(pa.Table.from_batches(list(sim.minutes(T0 + 3600, 10))))
    tlake.land(raw)
    half = raw.slice(0, 5)
    doubled = pc.add(pc.cast(half[COLUMN], pa.float64()), 0.5)  # 160 vehicles -> 160.5
    bad = half.set_column(half.schema.get_field_index(COLUMN), COLUMN, doubled)
    keys = tlake.land(bad, name="odd")
    tlake.crawl()  # the crawler widens the catalog column to double (and notes it)
    return keys


def test_a_double_count_fails_the_run_naming_column_and_partition(tlake: LakeHarness) -> None:
    [key] = lake_with_a_double_count(tlake)
    run = run_transform(tlake.settings)
    assert run.state == "FAILED"
    folder = key.rsplit("/", 1)[0] + "/"
    assert run.error == (
        f"LossyInputError: raw data would lose information in the transform: {COLUMN} is "
        f"double, not int32, in {folder}; correct or remove those files, or set "
        "transform.allow_lossy_casts = true to round them"
    )
    with tlake.catalog() as cat:  # nothing was written
        assert "transformed" not in {t.name for t in cat.list_tables("traffic")}


def test_the_setting_lets_the_cast_through_with_a_note(tlake: LakeHarness) -> None:
    lake_with_a_double_count(tlake)
    tlake.configure(allow_lossy_casts=True)
    run = tlake.transform()
    assert any("cast to integers (transform.allow_lossy_casts)" in n for n in run.result["notes"])
    assert tlake.rows()
