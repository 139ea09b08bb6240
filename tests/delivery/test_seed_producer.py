"""The seed's producer shape against `trafficlake aws serve`, with boto3: real feed data lands.

The committed excerpt (100 meetpunten of a real minute, every value a string) is turned into the
feed's XML, parsed back with xmltodict and flattened like the seed's Lambda, then sent in batches
of 100 to a stream created through boto3 with Parquet format conversion against a table declared
with the seed's Hive types. Every record must land with every value equal to its source string as
the table's type reads it; the crawler then sees the partitions.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from seed_producer import events_from_xml, feed_xml, send

from trafficlake.aws.server import AwsServer, serve_settings
from trafficlake.catalog import open_catalog
from trafficlake.catalog.base import Crawler
from trafficlake.catalog.crawler import run_crawler
from trafficlake.config import Settings
from trafficlake.storage import Lake

EXCERPT = Path(__file__).parents[1] / "fixtures" / "miv" / "verkeersdata-excerpt.json"
ROLE = "arn:aws:iam::000000000000:role/firehose"
PREFIX = (
    "destination-parquet/year=!{timestamp:yyyy}/month=!{timestamp:MM}/"
    "day=!{timestamp:dd}/hour=!{timestamp:HH}/"
)
ERROR_PREFIX = "error/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
INT = "int"
SEED_COLUMNS = [
    ("beschrijvende_id", "string"),
    ("unieke_id", INT),
    ("lve_nr", INT),
    ("tijd_waarneming", "bigint"),
    ("tijd_laatst_gewijzigd", "string"),
    ("actueel_publicatie", "string"),
    ("beschikbaar", INT),
    ("defect", INT),
    ("geldig", INT),
    *[
        (f"{m}_klasse{k}", INT)
        for k in range(1, 6)
        for m in (
            "verkeersintensiteit",
            "voertuigsnelheid_rekenkundig",
            "voertuigsnelheid_harmonisch",
        )
    ],
    ("rekendata_bezettingsgraad", INT),
    ("rekendata_beschikbaarheidsgraad", INT),
    ("rekendata_onrustigheid", INT),
]


@pytest.fixture
def endpoint(settings: Settings) -> Iterator[tuple[AwsServer, Settings]]:
    """The endpoint, with the schema table declared through Glue as the seed declared it."""
    settings = settings.replace(delivery=replace(settings.delivery, buffer_interval_s=0))
    server = serve_settings(settings, "127.0.0.1", 0)
    server.start()
    glue = client(server, "glue")
    glue.create_database(DatabaseInput={"Name": "anpr"})
    glue.create_table(
        DatabaseName="anpr",
        TableInput={
            "Name": "traffic_events",
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in SEED_COLUMNS],
                "Location": "s3://traffic-events-delivery/destination-parquet/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": (
                        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    )
                },
            },
        },
    )
    yield server, settings
    server.shutdown()
    server.close()


def client(server: AwsServer, service: str = "firehose") -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def excerpt_events() -> list[dict[str, Any]]:
    lines = EXCERPT.read_text(encoding="utf-8").splitlines()
    return events_from_xml(feed_xml(json.loads(line) for line in lines if line))


def as_typed(value: str, hive_type: str) -> Any:
    return int(value) if hive_type in ("int", "bigint") else value


def test_seed_producer_lands_every_real_record_with_its_values(
    endpoint: tuple[AwsServer, Settings],
) -> None:
    server, settings = endpoint
    firehose = client(server)
    firehose.create_delivery_stream(
        DeliveryStreamName="traffic-events",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE,
            "BucketARN": "arn:aws:s3:::traffic-events-delivery",
            "Prefix": PREFIX,
            "ErrorOutputPrefix": ERROR_PREFIX,
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
            "DataFormatConversionConfiguration": {
                "SchemaConfiguration": {
                    "RoleARN": ROLE,
                    "DatabaseName": "anpr",
                    "TableName": "traffic_events",
                    "Region": "eu-west-1",
                    "VersionId": "LATEST",
                },
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {
                    "Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}
                },
            },
        },
    )
    desc = firehose.describe_delivery_stream(DeliveryStreamName="traffic-events")
    s3 = desc["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert s3["DataFormatConversionConfiguration"]["Enabled"] is True
    assert s3["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 60}

    events = excerpt_events()
    assert len(events) == 100 and all(isinstance(v, str) for e in events for v in e.values())
    replies = send(firehose, "traffic-events", events[:99])
    one = firehose.put_record(
        DeliveryStreamName="traffic-events", Record={"Data": json.dumps(events[99])}
    )
    assert one["RecordId"] and sum(r["FailedPutCount"] for r in replies) == 0
    bad = {**events[0], "lve_nr": "fifty-five"}
    reply = firehose.put_record_batch(
        DeliveryStreamName="traffic-events", Records=[{"Data": json.dumps(bad)}]
    )
    assert reply["FailedPutCount"] == 0  # as on AWS: the failure goes to the error prefix
    server.shutdown()
    server.close()  # flushes the streams

    lake = Lake.from_settings(settings)
    landed = [e.key for e in lake.list("destination-parquet/")]
    assert landed and all(k.endswith(".parquet") and "/traffic-events-1-" in k for k in landed)
    table = pa.concat_tables(pq.read_table(lake.path(k)) for k in landed)
    assert table.num_rows == 100
    rows = {r["unieke_id"]: r for r in table.to_pylist()}
    for event in events:
        row = rows[int(event["unieke_id"])]
        for name, hive_type in SEED_COLUMNS:
            assert row[name] == as_typed(event[name], hive_type), (name, event["unieke_id"])
    assert table.schema.field("tijd_laatst_gewijzigd").type == pa.string()

    (error_key,) = [e.key for e in lake.list("error/")]
    assert error_key.startswith("error/format-conversion-failed/")
    (record,) = [json.loads(line) for line in lake.read_bytes(error_key).splitlines()]
    assert json.loads(base64.b64decode(record["rawData"])) == bad
    assert "lve_nr" in record["errorMessage"] and record["attemptsMade"] == 1

    with open_catalog(settings) as catalog:
        catalog.create_crawler(
            Crawler(
                "delivery-bucket",
                ["destination-parquet/"],
                database="anpr",
                table_prefix="sls_data_pipelines_batch_",
            )
        )
    run = run_crawler(settings, "delivery-bucket")
    assert run.status == "SUCCEEDED", run.error_message
    with open_catalog(settings) as catalog:
        (crawled,) = [t for t in catalog.list_tables("anpr") if t.name != "traffic_events"]
        assert crawled.name.startswith("sls_data_pipelines_batch_destination")
        assert [c.name for c in crawled.partition_keys] == ["year", "month", "day", "hour"]
        parts = catalog.list_partitions("anpr", crawled.name)
    assert sum(p.row_count or 0 for p in parts) == 100


def test_json_stream_with_gzip_and_a_static_prefix_lands_where_aws_puts_it(
    endpoint: tuple[AwsServer, Settings],
) -> None:
    server, settings = endpoint
    firehose = client(server)
    firehose.create_delivery_stream(
        DeliveryStreamName="json-gz",
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE,
            "BucketARN": "arn:aws:s3:::lake",
            "Prefix": "destination/",
            "CompressionFormat": "GZIP",
        },
    )
    records = [json.dumps(e) for e in excerpt_events()[:10]]
    firehose.put_record_batch(DeliveryStreamName="json-gz", Records=[{"Data": r} for r in records])
    version = firehose.describe_delivery_stream(DeliveryStreamName="json-gz")[
        "DeliveryStreamDescription"
    ]["VersionId"]
    firehose.update_destination(
        DeliveryStreamName="json-gz",
        CurrentDeliveryStreamVersionId=version,
        DestinationId="destinationId-000000000001",
        ExtendedS3DestinationUpdate={"CompressionFormat": "UNCOMPRESSED"},
    )
    desc = firehose.describe_delivery_stream(DeliveryStreamName="json-gz")[
        "DeliveryStreamDescription"
    ]
    assert desc["VersionId"] == "2"
    s3 = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert s3["CompressionFormat"] == "UNCOMPRESSED" and s3["Prefix"] == "destination/"
    with pytest.raises(firehose.exceptions.ConcurrentModificationException):
        firehose.update_destination(
            DeliveryStreamName="json-gz",
            CurrentDeliveryStreamVersionId="1",
            DestinationId="destinationId-000000000001",
            ExtendedS3DestinationUpdate={"Prefix": "other/"},
        )
    firehose.put_record(DeliveryStreamName="json-gz", Record={"Data": "plain"})
    firehose.delete_delivery_stream(DeliveryStreamName="json-gz")
    assert "json-gz" not in firehose.list_delivery_streams()["DeliveryStreamNames"]
    with pytest.raises(firehose.exceptions.ResourceNotFoundException):
        firehose.put_record(DeliveryStreamName="json-gz", Record={"Data": "x"})

    lake = Lake.from_settings(settings)
    keys = sorted(e.key for e in lake.list("destination/"))
    gz = [k for k in keys if k.endswith(".gz")]
    plain = [k for k in keys if not k.endswith(".gz")]
    assert len(gz) == 1 and len(plain) == 1
    for key in keys:
        parts = key.split("/")  # destination/yyyy/MM/dd/HH/<stream>-<version>-<time>-<uuid>
        assert len(parts) == 6 and [len(p) for p in parts[1:5]] == [4, 2, 2, 2]
    assert "/json-gz-1-" in gz[0] and "/json-gz-2-" in plain[0]
    assert gzip.decompress(lake.read_bytes(gz[0])) == "".join(records).encode()
    assert lake.read_bytes(plain[0]) == b"plain"


def test_seed_events_land_in_the_typed_stream_too(endpoint: tuple[AwsServer, Settings]) -> None:
    """The default (typed MIV) stream takes the seed's events as they are: every value a string,
    tijd_laatst_gewijzigd the feed's ISO time with its offset (converted to epoch seconds)."""
    server, settings = endpoint
    events = excerpt_events()
    replies = send(client(server), "miv", events)
    assert sum(r["FailedPutCount"] for r in replies) == 0
    server.shutdown()
    server.close()
    lake = Lake.from_settings(settings)
    table = pa.concat_tables(
        pq.read_table(lake.path(e.key)) for e in lake.list("raw/") if e.key.endswith(".parquet")
    )
    assert table.num_rows == 100
    rows = {r["unieke_id"]: r for r in table.to_pylist()}
    for event in events:
        row = rows[int(event["unieke_id"])]
        changed = datetime.fromisoformat(event["tijd_laatst_gewijzigd"])
        assert row["tijd_laatst_gewijzigd"] == int(changed.timestamp())
        assert row["tijd_waarneming"] == int(event["tijd_waarneming"])
        assert row["rekendata_onrustigheid"] == int(event["rekendata_onrustigheid"])


def test_a_converting_stream_keeps_acknowledged_records_through_kill_9(
    server_factory: Any, firehose_client: Any
) -> None:
    server = server_factory()
    glue = boto3.client(
        "glue",
        endpoint_url=server.url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="secret",
    )
    glue.create_database(DatabaseInput={"Name": "anpr"})
    glue.create_table(
        DatabaseName="anpr",
        TableInput={
            "Name": "traffic_events",
            "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in SEED_COLUMNS]},
        },
    )
    firehose = firehose_client(server.url)
    firehose.create_delivery_stream(
        DeliveryStreamName="traffic-events",
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE,
            "BucketARN": "arn:aws:s3:::lake",
            "Prefix": PREFIX,
            "ErrorOutputPrefix": ERROR_PREFIX,
            "DataFormatConversionConfiguration": {
                "SchemaConfiguration": {"DatabaseName": "anpr", "TableName": "traffic_events"},
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
            },
        },
    )
    events = excerpt_events()
    bad = {**events[0], "defect": "broken"}
    send(firehose, "traffic-events", [*events[:50], bad])  # acknowledged, still buffered
    server.proc.kill()
    server.proc.wait(10)
    restarted = server_factory()  # recovery converts the logged calls with the table's schema
    assert restarted.stop() == 0
    lake = Lake.from_url(str(server.folder / "lake"))
    landed = [e.key for e in lake.list("destination-parquet/")]
    table = pa.concat_tables(pq.read_table(lake.path(k)) for k in landed)
    assert sorted(table.column("unieke_id").to_pylist()) == sorted(
        int(e["unieke_id"]) for e in events[:50]
    )
    (error_key,) = [e.key for e in lake.list("error/")]
    (record,) = [json.loads(line) for line in lake.read_bytes(error_key).splitlines()]
    assert json.loads(base64.b64decode(record["rawData"])) == bad
