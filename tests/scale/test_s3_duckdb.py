"""DuckDB on an S3 lake: httpfs loaded offline from the wheel, a secret from the settings."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.config import Settings, load_settings
from trafficlake.s3 import (
    configure_duckdb,
    duckdb_secret_sql,
    httpfs_extension_path,
    resolve_endpoint,
    spark_s3a_conf,
    to_s3a,
)
from trafficlake.storage import Lake


def _write(lake: Lake, key: str, table: pa.Table) -> None:
    with lake.open_atomic(key) as out:
        pq.write_table(table, out)


@pytest.mark.s3
def test_duckdb_reads_hive_partitions_on_s3(s3_settings: Settings) -> None:
    lake = Lake.from_settings(s3_settings)
    for hour in (7, 8, 9):
        t = pa.table({"unieke_id": pa.array([1, 2], pa.int32()), "v": [hour * 10, hour * 10 + 1]})
        _write(lake, f"raw/year=2026/month=11/day=21/hour={hour}/f.parquet", t)

    con = duckdb.connect()
    configure_duckdb(con, s3_settings)
    glob = lake.uri("raw/*/*/*/*/*.parquet")
    rows = con.execute(
        f"SELECT hour, sum(v) FROM read_parquet('{glob}', hive_partitioning = true) "
        "WHERE hour >= 8 GROUP BY hour ORDER BY hour"
    ).fetchall()
    assert rows == [(8, 161), (9, 181)]
    # An explicit list of URIs (what a planned read set looks like).
    uris = [f.key for f in lake.list("raw")]
    n = con.execute(
        "SELECT count(*) FROM read_parquet(?)", [[lake.uri(k) for k in uris]]
    ).fetchone()
    assert n == (6,)


@pytest.mark.s3
def test_duckdb_copy_writes_to_s3(s3_settings: Settings) -> None:
    lake = Lake.from_settings(s3_settings)
    con = duckdb.connect()
    configure_duckdb(con, s3_settings)
    target = lake.uri("staging/run-1/out.parquet")
    con.execute(f"COPY (SELECT range AS x FROM range(100)) TO '{target}' (FORMAT parquet)")
    assert lake.exists("staging/run-1/out.parquet")
    assert con.execute(f"SELECT sum(x) FROM '{target}'").fetchone() == (4950,)


def test_configure_duckdb_is_a_noop_for_local_lakes(settings: Settings) -> None:
    con = duckdb.connect()
    configure_duckdb(con, settings)
    assert con.execute("SELECT count(*) FROM duckdb_secrets()").fetchone() == (0,)


def test_httpfs_ships_in_the_wheel() -> None:
    path = httpfs_extension_path()
    assert path is not None and path.name == "httpfs.duckdb_extension"


def _aws_settings(**s3: str) -> Settings:
    return load_settings(
        None, environ={}, overrides={"lake": {"url": "s3://bucket/lake"}, "s3": s3}
    )


def test_secret_sql_for_a_local_endpoint() -> None:
    s = _aws_settings(
        endpoint_url="http://127.0.0.1:9000", access_key_id="AK", secret_access_key="it's"
    )
    sql = duckdb_secret_sql(resolve_endpoint(s))
    assert "ENDPOINT '127.0.0.1:9000'" in sql
    assert "USE_SSL false" in sql and "URL_STYLE 'path'" in sql
    assert "KEY_ID 'AK'" in sql and "SECRET 'it''s'" in sql


def test_spark_s3a_conf_from_settings() -> None:
    s = _aws_settings(
        endpoint_url="http://127.0.0.1:9000",
        access_key_id="AK",
        secret_access_key="SK",
        region="eu-west-1",
    )
    conf = spark_s3a_conf(s)
    assert conf == {
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:9000",
        "spark.hadoop.fs.s3a.endpoint.region": "eu-west-1",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.access.key": "AK",
        "spark.hadoop.fs.s3a.secret.key": "SK",
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        ),
    }


def test_spark_s3a_conf_for_aws_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    conf = spark_s3a_conf(_aws_settings(path_style="false"))
    assert "spark.hadoop.fs.s3a.endpoint" not in conf  # AWS: the connector's default
    assert "spark.hadoop.fs.s3a.access.key" not in conf  # the default credential chain
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "true"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "false"


def test_s3_uris_map_to_s3a() -> None:
    assert to_s3a("s3://bucket/lake/raw/a.parquet") == "s3a://bucket/lake/raw/a.parquet"
    assert to_s3a("s3a://bucket/x") == "s3a://bucket/x"
    assert to_s3a("/tmp/lake/raw/a.parquet") == "/tmp/lake/raw/a.parquet"
