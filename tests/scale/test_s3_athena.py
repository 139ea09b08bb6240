"""Athena statements on an S3 lake (moto): locations inside the lake are used as given, writes
land in the bucket in Hive layout and publish through one catalog commit."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.athena.engine import AthenaSession
from trafficlake.athena.errors import AthenaQueryError
from trafficlake.catalog import open_catalog
from trafficlake.config import Settings
from trafficlake.storage import Lake


@pytest.mark.s3
def test_insert_select_and_ddl_on_an_s3_lake(s3_settings: Settings, s3_bucket: str) -> None:
    lake = Lake.from_settings(s3_settings)
    for d in (1, 2):
        with lake.open_atomic(f"src/d={d}/f.parquet") as out:
            pq.write_table(pa.table({"a": pa.array([d, d * 10], pa.int32())}), out)
    base = f"s3://{s3_bucket}/lake"
    with open_catalog(s3_settings) as cat:
        cat.create_database("anpr")
        s = AthenaSession(s3_settings, cat, lake, database="anpr", query_id="q")
        try:
            s.execute(f"CREATE EXTERNAL TABLE src (a int) PARTITIONED BY (d int) STORED AS "
                      f"PARQUET LOCATION '{base}/src/'")  # fmt: skip
            s.execute("MSCK REPAIR TABLE src")
            s.execute(f"CREATE EXTERNAL TABLE dst (a int) PARTITIONED BY (h int) STORED AS "
                      f"PARQUET LOCATION '{base}/dst/'")  # fmt: skip
            assert s.execute("INSERT INTO dst SELECT a / 3, d FROM src").update_count == 4
            assert s.execute("SELECT h, sum(a) FROM dst GROUP BY h ORDER BY h").rows == [
                (1, 3), (2, 6)
            ]  # fmt: skip
            keys = [e.key for e in lake.list("dst/")]
            assert len(keys) == 2 and all(k.startswith("dst/h=") for k in keys)
            with pytest.raises(AthenaQueryError, match="INVALID_TABLE_PROPERTY"):
                s.execute("CREATE EXTERNAL TABLE out (a int) STORED AS PARQUET "
                          "LOCATION 's3://another-bucket/x/'")  # fmt: skip
        finally:
            s.close()
