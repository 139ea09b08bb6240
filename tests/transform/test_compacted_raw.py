"""The transform reads a compacted raw lake exactly as it read the delivered small files."""

from __future__ import annotations

import pyarrow as pa
import pytest
from transform_lakes import T0, LakeHarness, with_arrival

from trafficlake.catalog.compaction import compact_table
from trafficlake.catalog.names import RAW
from trafficlake.miv.simulator import Simulator


@pytest.mark.slow
def test_transform_output_is_the_same_after_compaction(tlake: LakeHarness) -> None:
    sim = Simulator(seed=11, lanes=120, clean=False)  # stale republishes, late data, defects
    raw = with_arrival(pa.Table.from_batches(list(sim.minutes(T0 - 5400, 180))))
    for start in range(0, raw.num_rows, raw.num_rows // 18):  # ~10-minute deliveries
        tlake.land(raw.slice(start, raw.num_rows // 18))
    tlake.land(with_arrival(raw.slice(0, 5000), delay_s=900))  # republished later: duplicates
    tlake.crawl()
    first = tlake.transform()
    before = tlake.rows()
    with tlake.catalog() as cat:
        files = sum(len(p.files) for p in cat.list_partitions(*RAW))
        done = compact_table(
            cat, tlake.lake, RAW, stats_columns=list(tlake.settings.catalog.stats_columns), now=2e9
        )
    assert done.partitions >= 3 and done.files_before == files > done.files_after
    # the compacted partitions are new versions: the incremental run rebuilds their days,
    # and gets the same rows
    again = tlake.transform()
    assert again.result["days"] == first.result["days"]
    assert tlake.rows() == before
