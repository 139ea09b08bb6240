"""Acceptance: the seed's own Athena INSERT INTO, formatted as the seed's Lambda does (4-day
ranges), started through boto3 ``athena.start_query_execution`` against tables declared through
boto3 ``glue.create_table`` the way the seed declares them, gives exactly what Athena computes -
checked against an independent Python computation of the seed's arithmetic (integer division,
ROWS windows per chunk, the ``BETWEEN 41 AND 250`` gap) on the seed's 13 locations over 6 days.
A 5-day chunk (120 hourly partitions) fails with HIVE_TOO_MANY_OPEN_PARTITIONS, writing nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trafficlake.athena.seed import SEED_INSERT, seed_ranges
from trafficlake.aws.server import AwsServer, serve_settings
from trafficlake.config import Settings
from trafficlake.schema import RAW_SCHEMA
from trafficlake.storage import Lake

SEED_LANES = (32, 37, 1840, 2125, 3388, 3391, 753, 1065, 3159, 2161, 216, 217, 1132)
LVE = {32: 10, 37: 10, 3388: 20, 3391: 20, 216: 30, 217: 30}  # lanes of one road share lve_nr
OTHER_LANES = (5, 6000)  # not in the seed's list: filtered out
YEAR, MONTH, DAYS = 2026, 11, range(1, 7)
OUTPUT = "s3://seed-bucket/transformed-parquet-athena/temp"
SOURCE, TARGET = (
    "sls_data_pipelines_batch_destination_parquet",
    "sls_data_pipelines_batch_transformed",
)
HIVE = {pa.int8(): "tinyint", pa.int32(): "int", pa.int64(): "bigint", pa.string(): "string"}
TARGET_COLUMNS = [
    ("uniqueid", "int"), ("recordtimestamp", "bigint"), ("currentspeed", "double"),
    ("bezettingsgraad", "int"), ("previousspeed", "double"), ("trafficjamindicator", "int"),
    ("trafficjamindicatorlong", "int"), ("trafficintensityclass2", "int"),
    ("trafficintensityclass3", "int"), ("trafficintensityclass4", "int"),
    ("trafficintensityclass5", "int"), ("speeddiffindicator", "int"),
    ("avgspeed3minutes", "double"), ("avgspeed20minutes", "double"),
]  # fmt: skip


# ---- the lake: Firehose-landed Parquet (arrival-hour folders), as the seed's source ----------
def minute_rows(rng: random.Random, lane: int, t: int) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in RAW_SCHEMA}
    jam = 8 * 60 <= (t // 60) % 1440 < 9 * 60  # a daily morning jam: low speeds
    row.update(unieke_id=lane, lve_nr=LVE.get(lane, 1000 + lane), tijd_waarneming=t,
               beschrijvende_id=f"H{lane}", defect=int(rng.random() < 0.02),
               rekendata_bezettingsgraad=-1 if rng.random() < 0.02 else rng.randint(0, 60),
               arrival_time=(t + 30) * 1000)  # fmt: skip
    for k in range(1, 6):
        count = 0 if rng.random() < 0.25 else rng.randint(1, 12)
        speed = rng.randint(5, 45) if jam else rng.randint(30, 130)
        row[f"verkeersintensiteit_klasse{k}"] = count
        row[f"voertuigsnelheid_rekenkundig_klasse{k}"] = speed if count else 0
        row[f"voertuigsnelheid_harmonisch_klasse{k}"] = speed if count else 0
    return row


def land(lake: Lake) -> list[dict[str, Any]]:
    rng = random.Random(11)
    start = int(dt.datetime(YEAR, MONTH, DAYS[0], tzinfo=dt.UTC).timestamp())
    rows: list[dict[str, Any]] = []
    for hour in range(len(DAYS) * 24):
        batch = [minute_rows(rng, lane, start + hour * 3600 + m * 60)
                 for m in range(60) for lane in SEED_LANES + OTHER_LANES]  # fmt: skip
        rows += batch
        arrival = dt.datetime.fromtimestamp(start + hour * 3600 + 30, dt.UTC)
        folder = lake.path(f"destination-parquet/{arrival:%Y/%m/%d/%H}")
        os.makedirs(folder, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(batch, RAW_SCHEMA), f"{folder}/part-0.parquet")
    return rows


# ---- the independent oracle: the seed's arithmetic in plain Python ---------------------------
def avg(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def jam(speed: float | None) -> int:
    if speed is not None and 0 <= speed <= 40:
        return 1
    if speed is not None and 41 <= speed <= 250:
        return 0
    return -1


def oracle(rows: list[dict[str, Any]], first: int, last: int) -> dict[tuple[int, int], tuple]:
    """What the seed's INSERT writes for days first..last (one chunk, its windows inside it)."""
    groups: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        when = dt.datetime.fromtimestamp(r["tijd_waarneming"], dt.UTC)
        if (r["rekendata_bezettingsgraad"] > -1 and r["defect"] == 0 and r["unieke_id"] in SEED_LANES
                and (when.year, when.month) == (YEAR, MONTH) and first <= when.day <= last):  # fmt: skip
            groups[(r["lve_nr"], r["tijd_waarneming"])].append(r)
    per_row = []
    for (_, t), members in groups.items():
        speeds, bez = [], []
        for r in members:
            counts = [r[f"verkeersintensiteit_klasse{k}"] for k in (2, 3, 4, 5)]
            total = sum(r[f"voertuigsnelheid_rekenkundig_klasse{k}"] for k in (2, 3, 4, 5))
            classes = sum(1 for c in counts if c > 0)
            speeds.append(total // classes if sum(counts) > 0 else None)  # Athena: int / int
            bez.append(sum(counts))
        mean_bez = sum(bez) / len(bez)
        per_row.append({
            "uniqueid": max(r["unieke_id"] for r in members), "t": t,
            "currentspeed": avg([float(s) if s is not None else None for s in speeds]),
            "bezettingsgraad": math.floor(mean_bez + 0.5),  # round half away from zero
            **{f"trafficintensityclass{k}": sum(r[f"verkeersintensiteit_klasse{k}"] for r in members)
               for k in (2, 3, 4, 5)},
        })  # fmt: skip
    out: dict[tuple[int, int], tuple] = {}
    by_lane: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in per_row:
        by_lane[r["uniqueid"]].append(r)
    for lane, series in by_lane.items():
        series.sort(key=lambda r: r["t"])
        speeds = [r["currentspeed"] for r in series]
        for i, r in enumerate(series):
            prev = speeds[i - 1] if i else None
            cur = r["currentspeed"]
            diff = cur - prev if cur is not None and prev is not None else None
            a3, a20 = avg(speeds[max(0, i - 2) : i + 1]), avg(speeds[max(0, i - 19) : i + 1])
            when = dt.datetime.fromtimestamp(r["t"], dt.UTC)
            out[(lane, r["t"])] = (
                lane, r["t"], cur, r["bezettingsgraad"], prev, jam(a3), jam(a20),
                r["trafficintensityclass2"], r["trafficintensityclass3"],
                r["trafficintensityclass4"], r["trafficintensityclass5"],
                1 if diff is not None and diff >= 20 else -1 if diff is not None and diff <= -20 else 0,
                a3, a20, when.year, when.month, when.day, when.hour,
            )  # fmt: skip
    return out


# ---- the test ---------------------------------------------------------------------------------
@pytest.fixture
def server(settings: Settings) -> Iterator[AwsServer]:
    srv = serve_settings(settings, "127.0.0.1", 0)
    srv.start()
    yield srv
    srv.shutdown()
    srv.close()


def _client(server: AwsServer, service: str) -> Any:
    return boto3.client(service, endpoint_url=server.url, region_name="eu-west-1",
                        aws_access_key_id="k", aws_secret_access_key="s")  # fmt: skip


def declare_tables(glue: Any) -> None:
    """The seed's tables, declared up front through Glue (Hive types; year..hour bigint keys)."""
    glue.create_database(DatabaseInput={"Name": "anpr"})
    parquet = {"InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
               "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
               "SerdeInfo": {"SerializationLibrary":
                             "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}  # fmt: skip
    glue.create_table(DatabaseName="anpr", TableInput={
        "Name": SOURCE, "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet"},
        "PartitionKeys": [{"Name": f"partition_{i}", "Type": "string"} for i in range(4)],
        "StorageDescriptor": {
            "Columns": [{"Name": f.name, "Type": HIVE[f.type]} for f in RAW_SCHEMA],
            "Location": "s3://seed-bucket/destination-parquet/", **parquet},
    })  # fmt: skip
    glue.create_table(DatabaseName="anpr", TableInput={
        "Name": TARGET, "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet"},
        "PartitionKeys": [{"Name": k, "Type": "bigint"} for k in ("year", "month", "day", "hour")],
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in TARGET_COLUMNS],
            "Location": "s3://seed-bucket/transformed-parquet-athena/", **parquet},
    })  # fmt: skip


def start(athena: Any, sql: str) -> str:
    return str(athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": "anpr", "Catalog": "AwsDataCatalog"},
        ResultConfiguration={"OutputLocation": OUTPUT},
    )["QueryExecutionId"])  # fmt: skip


def wait_all(athena: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Poll like the seed's GetAthenaState step (BatchGetQueryExecution) until none runs."""
    for _ in range(2400):
        found = athena.batch_get_query_execution(QueryExecutionIds=ids)
        assert not found["UnprocessedQueryExecutionIds"]
        states = {q["QueryExecutionId"]: q["Status"] for q in found["QueryExecutions"]}
        if all(s["State"] not in ("QUEUED", "RUNNING") for s in states.values()):
            return states
        time.sleep(0.1)
    raise AssertionError("the seed's queries did not finish")


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
    return bool(a == b)


@pytest.mark.slow
def test_the_seeds_insert_gives_athenas_numbers(server: AwsServer, settings: Settings) -> None:
    lake = Lake.from_settings(settings)
    rows = land(lake)
    glue, athena = _client(server, "glue"), _client(server, "athena")
    declare_tables(glue)
    # the crawler's partitions of the source table (Firehose's yyyy/MM/dd/HH folders)
    adds = " ".join(
        f"PARTITION (partition_0='{p[0]}', partition_1='{p[1]}', partition_2='{p[2]}', "
        f"partition_3='{p[3]}') LOCATION 's3://seed-bucket/destination-parquet/{'/'.join(p)}/'"
        for p in sorted({tuple(e.key.split("/")[1:5]) for e in lake.list("destination-parquet/")})
    )
    ids = [start(athena, f"ALTER TABLE {SOURCE} ADD {adds}")]
    assert wait_all(athena, ids)[ids[0]]["State"] == "SUCCEEDED"

    # the seed Lambda's 4-day ranges, all started at once as the Lambda does
    first, last = dt.date(YEAR, MONTH, DAYS[0]), dt.date(YEAR, MONTH, DAYS[-1])
    ranges = [(a, b) for _, _, a, b in seed_ranges(first, last)]
    assert ranges == [(1, 4), (5, 6)]
    ids = [
        start(athena, SEED_INSERT.format(year=YEAR, month=MONTH, start_day=a, end_day=b))
        for a, b in ranges
    ]
    states = wait_all(athena, ids)
    assert all(s["State"] == "SUCCEEDED" for s in states.values()), states

    expected: dict[tuple[int, int], tuple] = {}
    for a, b in ranges:
        expected.update(oracle(rows, a, b))
    qid = start(athena, f"SELECT * FROM {TARGET}")
    assert wait_all(athena, [qid])[qid]["State"] == "SUCCEEDED"
    first_page = athena.get_query_results(QueryExecutionId=qid, MaxResults=10)["ResultSet"]
    columns = first_page["ResultSetMetadata"]["ColumnInfo"]
    kinds = [t for _, t in TARGET_COLUMNS] + ["bigint"] * 4
    assert [c["Type"] for c in columns] == [{"int": "integer"}.get(k, k) for k in kinds]
    header = [d["VarCharValue"] for d in first_page["Rows"][0]["Data"]]
    assert header == [n for n, _ in TARGET_COLUMNS] + ["year", "month", "day", "hour"]
    # every row, from Athena's result file <OutputLocation>/<id>.csv (NULL: an empty field)
    text = lake.read_bytes(f"transformed-parquet-athena/temp/{qid}.csv").decode()
    body = [[v or None for v in r] for r in csv.reader(io.StringIO(text))][1:]
    got = {}
    for r in body:
        values = tuple(None if v is None else float(v) if k == "double" else int(v)
                       for v, k in zip(r, kinds, strict=True))  # fmt: skip
        got[(values[0], values[1])] = values
    assert set(got) == set(expected)
    assert {k[0] for k in got} == set(SEED_LANES)  # MAX(uniqueId) of a road's lanes
    for key, want in expected.items():
        for name, a, b in zip(header, got[key], want, strict=True):
            assert same(a, b), f"{key} {name}: ours {a!r}, the seed's arithmetic {b!r}"
    # the arithmetic was exercised: the jam gap, jams, speed jumps, every day
    assert any(v[5] == -1 and v[12] is not None and 40 < v[12] < 41 for v in expected.values())
    assert any(v[5] == 1 for v in expected.values()) and any(v[11] != 0 for v in expected.values())
    assert {(v[14], v[15], v[16]) for v in expected.values()} == {(YEAR, MONTH, d) for d in DAYS}
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName="anpr", TableName=TARGET)
    assert sum(len(p["Partitions"]) for p in pages) == len(DAYS) * 24  # hourly, via Glue too
    with_glue = glue.get_partitions(DatabaseName="anpr", TableName=TARGET)["Partitions"]
    assert len(with_glue) == len(DAYS) * 24

    # a 5-day chunk writes 120 hourly partitions: Athena's limit refuses it, nothing is written
    before = sorted(e.key for e in lake.list("transformed-parquet-athena/"))
    qid = start(athena, SEED_INSERT.format(year=YEAR, month=MONTH, start_day=1, end_day=5))
    status = wait_all(athena, [qid])[qid]
    assert status["State"] == "FAILED"
    assert status["StateChangeReason"] == (
        "HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of 100 open writers for partitions/buckets"
    )
    assert sorted(e.key for e in lake.list("transformed-parquet-athena/")) == before
