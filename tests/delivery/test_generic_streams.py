"""Created streams as Firehose has them: destination rules, SerDe conversion, prefixes, errors."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from trafficlake.catalog import open_catalog
from trafficlake.catalog.base import Column, Table
from trafficlake.config import CatalogSettings, DeliverySettings, LakeSettings, Settings
from trafficlake.delivery.destination import InvalidDestinationError, parse_destination
from trafficlake.delivery.registry import DEFINITION_FILE, StreamRegistry
from trafficlake.delivery.serde import SerDe, SerDeConverter
from trafficlake.delivery.stream import InvalidArgumentError
from trafficlake.storage import Lake

BUCKET = {"RoleARN": "arn:aws:iam::000000000000:role/firehose", "BucketARN": "arn:aws:s3:::lake"}
COLUMNS = [
    ("beschrijvende_id", "string"),
    ("unieke_id", "int"),
    ("tijd_waarneming", "bigint"),
    ("tijd_laatst_gewijzigd", "string"),
    ("speed", "double"),
    ("ok", "boolean"),
]


def conversion(serde: str = "OpenXJsonSerDe", **opts: Any) -> dict[str, Any]:
    return {
        "SchemaConfiguration": {"DatabaseName": "verkeer", "TableName": "events"},
        "InputFormatConfiguration": {"Deserializer": {serde: opts}},
        "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(
        lake=LakeSettings(url=str(tmp_path / "lake")),
        catalog=CatalogSettings(url=f"sqlite:///{tmp_path / 'catalog.db'}"),
        delivery=DeliverySettings(wal_dir=str(tmp_path / "wal"), buffer_interval_s=0),
        base_dir=tmp_path,
    )
    with open_catalog(s) as catalog:
        catalog.create_database("verkeer")
        catalog.create_table(
            Table("verkeer", "events", [Column(n, t) for n, t in COLUMNS], location="events/")
        )
    return s


@pytest.fixture
def registry(settings: Settings) -> Any:
    reg = StreamRegistry(settings).open()
    yield reg
    reg.close()


def files(settings: Settings, prefix: str) -> list[Path]:
    lake = Lake.from_settings(settings)
    return [Path(lake.path(e.key)) for e in lake.list(prefix)]


# ---- conversion rules ----------------------------------------------------------------------
def test_openx_converts_strings_numbers_and_keys_like_the_serde() -> None:
    convert = SerDeConverter(COLUMNS)
    raw = [
        b'{"beschrijvende_id":"H1","unieke_id":"29","tijd_waarneming":"1493300280",'
        b'"tijd_laatst_gewijzigd":"2017-04-27T14:39:14+01:00","speed":"81.5","extra":{"a":1}}',
        b'{"BESCHRIJVENDE_ID":7,"unieke_id":30,"ok":"TRUE"}',
        b'{"beschrijvende_id":true,"unieke_id":"31","ok":"yes","speed":80}',
    ]
    table, errors = convert.convert(raw)
    assert errors == []
    assert table.to_pylist() == [
        {
            "beschrijvende_id": "H1",
            "unieke_id": 29,
            "tijd_waarneming": 1493300280,
            "tijd_laatst_gewijzigd": "2017-04-27T14:39:14+01:00",
            "speed": 81.5,
            "ok": None,
        },
        {
            "beschrijvende_id": "7",
            "unieke_id": 30,
            "tijd_waarneming": None,
            "tijd_laatst_gewijzigd": None,
            "speed": None,
            "ok": True,
        },
        {
            "beschrijvende_id": "true",
            "unieke_id": 31,
            "tijd_waarneming": None,
            "tijd_laatst_gewijzigd": None,
            "speed": 80.0,
            "ok": False,
        },
    ]


def test_hive_serde_refuses_numbers_in_strings_and_openx_options_apply() -> None:
    hive = SerDeConverter(COLUMNS, SerDe("HiveJsonSerDe"))
    table, errors = hive.convert([b'{"unieke_id":"29"}', b'{"unieke_id":29}'])
    assert [e.index for e in errors] == [0] and "string where a number" in errors[0].message
    assert table.column("unieke_id").to_pylist() == [29]
    strict = SerDeConverter(
        COLUMNS,
        SerDe(case_insensitive=False, dots_to_underscores=True, column_to_key={"ok": "flag"}),
    )
    table, errors = strict.convert([b'{"Unieke_Id":1,"beschrijvende.id":"x","flag":true}'])
    assert errors == []
    assert table.to_pylist()[0] == {
        "beschrijvende_id": "x",
        "unieke_id": None,
        "tijd_waarneming": None,
        "tijd_laatst_gewijzigd": None,
        "speed": None,
        "ok": True,
    }


def test_one_bad_record_never_touches_its_batch_mates() -> None:
    convert = SerDeConverter(COLUMNS)
    good = b'{"beschrijvende_id":"H1","unieke_id":"1"}'
    bad = {
        "non-number": b'{"unieke_id":"abc"}',
        "fraction": b'{"unieke_id":1.5}',
        "overflow": b'{"unieke_id":3000000000}',
        "array": b"[1,2,3]",
        "not json": b"hello",
        "deep": b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "utf8": b'{"beschrijvende_id":"\xff"}',
        "folded keys": b'{"unieke_id":1,"UNIEKE_ID":2}',
        "duplicate": b'{"unieke_id":1,"unieke_id":2}',
        "missing": b"{}",
    }
    raw = [good, *bad.values(), good]
    table, errors = convert.convert(raw)
    failed = {e.index for e in errors}
    assert failed == set(range(1, len(bad)))  # all but "missing" (nulls), and both goods land
    assert table.num_rows == 3
    assert table.column("unieke_id").to_pylist() == [1, None, 1]
    for e in errors:
        assert e.code.startswith("DataFormatConversion.") and "\n" not in e.message


# ---- destination rules ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"BufferingHints": {"SizeInMBs": "5"}}, "SizeInMBs must be an integer"),
        ({"BufferingHints": {"IntervalInSeconds": 901}}, "between 0 and 900"),
        ({"BufferingHints": []}, "BufferingHints must be an object"),
        ({"Prefix": "x/!{timestamp:yyyy}/"}, "ErrorOutputPrefix is required"),
        ({"Prefix": "x/!{foo:bar}/", "ErrorOutputPrefix": "e/"}, "unsupported expression"),
        ({"Prefix": "x/!{partitionKeyFromQuery:k}/", "ErrorOutputPrefix": "e/"}, "dynamic"),
        ({"Prefix": "x/!{firehose:error-output-type}/", "ErrorOutputPrefix": "e/"}, "error"),
        ({"CompressionFormat": "LZ4"}, "CompressionFormat must be one of"),
        (
            {"DataFormatConversionConfiguration": conversion(), "CompressionFormat": "GZIP"},
            "UNCOMPRESSED",
        ),
        (
            {"DataFormatConversionConfiguration": conversion(), "BufferingHints": {"SizeInMBs": 5}},
            "at least 64",
        ),
        ({"FileExtension": "gz"}, "FileExtension"),
        ({"BucketARN": "lake"}, "BucketARN"),
    ],
)
def test_destinations_aws_refuses_are_refused_in_one_line(config: Any, message: str) -> None:
    with pytest.raises(InvalidDestinationError, match=message) as info:
        parse_destination({**BUCKET, **config})
    assert "\n" not in str(info.value)


def test_prefix_defaults_follow_aws() -> None:
    static = parse_destination({**BUCKET, "Prefix": "destination/", "ErrorOutputPrefix": "error/"})
    assert static.prefix == "destination/!{timestamp:yyyy/MM/dd/HH}/"
    assert static.error_prefix == "error/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
    assert parse_destination(BUCKET).prefix == "!{timestamp:yyyy/MM/dd/HH}/"
    parquet = parse_destination({**BUCKET, "DataFormatConversionConfiguration": conversion()})
    assert parquet.buffer_size_mb == 128 and parquet.file_extension == ".parquet"
    assert parse_destination({**BUCKET, "CompressionFormat": "GZIP"}).file_extension == ".gz"


# ---- streams -------------------------------------------------------------------------------
def test_gzip_json_stream_with_a_static_prefix_lands_where_aws_puts_it(
    registry: StreamRegistry, settings: Settings
) -> None:
    registry.create("clicks", {**BUCKET, "Prefix": "destination/", "CompressionFormat": "GZIP"})
    records = [json.dumps({"n": i}).encode() + b"\n" for i in range(20)]
    reply = registry.get("clicks").put_record_batch(records)
    assert reply["FailedPutCount"] == 0
    registry.get("clicks").flush()
    (path,) = files(settings, "destination/")
    rel = path.relative_to(Path(settings.lake_url))
    parts = rel.parts
    assert parts[0] == "destination" and len(parts) == 6  # destination/yyyy/MM/dd/HH/<name>
    assert [len(p) for p in parts[1:5]] == [4, 2, 2, 2]
    assert parts[5].startswith("clicks-1-") and parts[5].endswith(".gz")
    assert gzip.decompress(path.read_bytes()) == b"".join(records)


def test_conversion_stream_lands_rows_and_aws_error_records(
    registry: StreamRegistry, settings: Settings
) -> None:
    registry.create(
        "events",
        {
            **BUCKET,
            "Prefix": "events/",
            "ErrorOutputPrefix": "failed/",
            "DataFormatConversionConfiguration": conversion(),
        },
    )
    stream = registry.get("events")
    bad = b'{"beschrijvende_id":"H2","unieke_id":"twelve"}'
    reply = stream.put_record_batch([b'{"beschrijvende_id":"H1","unieke_id":"12"}', bad])
    assert reply["FailedPutCount"] == 0  # AWS accepts the put; the failure goes to S3
    stream.flush()
    (parquet,) = files(settings, "events/")
    assert parquet.name.endswith(".parquet")
    assert pq.read_table(parquet).to_pylist()[0]["unieke_id"] == 12
    (errors,) = files(settings, "failed/")
    assert "/format-conversion-failed/" in str(errors)
    (rec,) = [json.loads(line) for line in errors.read_text().splitlines()]
    assert base64.b64decode(rec["rawData"]) == bad
    assert rec["attemptsMade"] == 1 and rec["errorCode"].startswith("DataFormatConversion.")
    assert "twelve" in rec["errorMessage"]
    assert {"arrivalTimestamp", "attemptEndingTimestamp"} <= set(rec)
    assert rec["dataCatalogTable"]["tableName"] == "events"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"ErrorOutputPrefix": "raw/errors/"}, "inside the crawled folder"),
        ({"Prefix": "x" * 300 + "/"}, "not a key every store can hold"),
        (
            {
                "Prefix": "a/!{timestamp:'..'}/",
                "ErrorOutputPrefix": "e/!{firehose:error-output-type}/",
            },
            "not a key",
        ),
        (
            {
                "DataFormatConversionConfiguration": {
                    **conversion(),
                    "SchemaConfiguration": {"DatabaseName": "verkeer", "TableName": "no"},
                }
            },
            "cannot be read",
        ),
    ],
)
def test_streams_that_could_not_deliver_are_refused_at_creation(
    registry: StreamRegistry, config: Any, message: str
) -> None:
    with pytest.raises(InvalidDestinationError, match=message):
        registry.create("bad", {**BUCKET, **config})
    assert "bad" not in registry.names()


def test_a_broken_saved_stream_does_not_take_the_others_down(settings: Settings) -> None:
    StreamRegistry(settings).open().close()
    folder = Path(settings.delivery.wal_dir) / "broken"
    folder.mkdir(parents=True)
    (folder / DEFINITION_FILE).write_text(json.dumps({"ExtendedS3DestinationConfiguration": 1}))
    registry = StreamRegistry(settings).open()
    try:
        assert registry.names() == ["broken", "miv"]
        assert registry.describe("broken")["DeliveryStreamStatus"] == "CREATING_FAILED"
        assert registry.get("miv").put_record_batch([b"{}"])  # the others still take records
    finally:
        registry.close()


def test_stream_count_is_capped(registry: StreamRegistry, monkeypatch: Any) -> None:
    monkeypatch.setattr("trafficlake.delivery.registry.MAX_STREAMS", 3)
    registry.create("a", BUCKET)
    registry.create("b", BUCKET)
    with pytest.raises(Exception, match="delivery streams"):
        registry.create("c", BUCKET)
    with pytest.raises(InvalidArgumentError):
        registry.create("../x", BUCKET)


HANDLER = """
import base64, json

def handle(event, context):
    out = []
    for rec in event["records"]:
        data = json.loads(base64.b64decode(rec["data"]))
        if data.get("action") == "drop":
            out.append({"recordId": rec["recordId"], "result": "Dropped"})
        elif data.get("action") == "fail":
            out.append({"recordId": rec["recordId"], "result": "ProcessingFailed"})
        else:
            data["seen_by"] = event["deliveryStreamArn"].rsplit("/", 1)[1]
            line = json.dumps(data) + "\\n"
            out.append({"recordId": rec["recordId"], "result": "Ok",
                        "data": base64.b64encode(line.encode()).decode()})
    return {"records": out}
"""


def test_lambda_processor_transforms_drops_and_fails_records(
    settings: Settings, tmp_path: Path
) -> None:
    from dataclasses import replace

    from trafficlake.config import LambdaFunction

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "proc.py").write_text(HANDLER)
    fn = LambdaFunction(handler="proc.handle", code_dir=str(tmp_path / "code"), timeout_s=30)
    settings = settings.replace(lambda_=replace(settings.lambda_, functions={"Processor": fn}))
    registry = StreamRegistry(settings).open()
    try:
        processing = {
            "Enabled": True,
            "Processors": [
                {
                    "Type": "Lambda",
                    "Parameters": [
                        {
                            "ParameterName": "LambdaArn",
                            "ParameterValue": "arn:aws:lambda:eu-west-1:000000000000:function:Processor",
                        },
                        {"ParameterName": "NumberOfRetries", "ParameterValue": "0"},
                    ],
                }
            ],
        }
        with pytest.raises(InvalidDestinationError, match="Function not found"):
            bad = {
                **processing,
                "Processors": [
                    {
                        **processing["Processors"][0],
                        "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": "Nope"}],
                    }
                ],
            }
            registry.create("nope", {**BUCKET, "ProcessingConfiguration": bad})
        registry.create(
            "processed",
            {
                **BUCKET,
                "Prefix": "processed/",
                "ErrorOutputPrefix": "failed/",
                "ProcessingConfiguration": processing,
            },
        )
        stream = registry.get("processed")
        records = [b'{"n":1}', b'{"n":2,"action":"drop"}', b'{"n":3,"action":"fail"}']
        assert stream.put_record_batch(records)["FailedPutCount"] == 0
        stream.flush()
    finally:
        registry.close()
    (landed,) = files(settings, "processed/")
    assert landed.read_bytes() == b'{"n": 1, "seen_by": "processed"}\n'
    (failed,) = files(settings, "failed/")
    assert "/processing-failed/" in str(failed)
    (rec,) = [json.loads(line) for line in failed.read_text().splitlines()]
    assert base64.b64decode(rec["rawData"]) == records[2]
    assert rec["errorCode"] == "Lambda.ProcessingFailed"
    assert rec["lambdaArn"].endswith(":function:Processor")


def test_streams_declared_in_the_config_are_served_and_owned_by_it(tmp_path: Path) -> None:
    from trafficlake.config import load_settings

    (tmp_path / "trafficlake.toml").write_text(
        """
[lake]
url = "./lake"
[delivery]
buffer_interval_s = 0

[[streams]]
name = "clicks"
[streams.destination]
RoleARN = "arn:aws:iam::000000000000:role/firehose"
BucketARN = "arn:aws:s3:::lake"
Prefix = "clicks/"
CompressionFormat = "GZIP"

[[streams]]
name = "broken"
[streams.destination]
RoleARN = "arn:aws:iam::000000000000:role/firehose"
BucketARN = "arn:aws:s3:::lake"
BufferingHints = { SizeInMBs = "lots" }
"""
    )
    settings = load_settings(tmp_path / "trafficlake.toml")
    registry = StreamRegistry(settings).open()
    try:
        assert registry.names() == ["broken", "clicks", "miv"]
        assert "SizeInMBs must be an integer" in registry.failed["broken"]
        desc = registry.describe("clicks")["Destinations"][0]["ExtendedS3DestinationDescription"]
        assert desc["CompressionFormat"] == "GZIP" and desc["Prefix"] == "clicks/"
        with pytest.raises(InvalidArgumentError, match="declared in the config"):
            registry.delete("clicks")
        registry.get("clicks").put_record_batch([b"a", b"b"])
    finally:
        registry.close()
    (landed,) = files(settings, "clicks/")
    assert gzip.decompress(landed.read_bytes()) == b"ab"


def test_record_size_limits_are_aws_s(registry: StreamRegistry, settings: Settings) -> None:
    registry.create(
        "sized",
        {
            **BUCKET,
            "Prefix": "sized/",
            "ErrorOutputPrefix": "sized-failed/",
            "DataFormatConversionConfiguration": conversion(),
        },
    )
    stream = registry.get("sized")
    head, tail = b'{"beschrijvende_id":"', b'"}'
    exact = head + b"x" * (1_024_000 - len(head) - len(tail)) + tail  # 1,000 KiB: accepted
    assert stream.put_record_batch([exact])["FailedPutCount"] == 0
    with pytest.raises(InvalidArgumentError, match="1,000 KiB"):
        stream.put_record_batch([b'{"unieke_id":"1"}', exact + b" "])  # the whole call refused
    with pytest.raises(InvalidArgumentError, match="4 MiB"):
        stream.put_record_batch([exact] * 5)
    stream.flush()
    (landed,) = files(settings, "sized/")
    assert pq.read_table(landed).column("beschrijvende_id")[0].as_py() == "x" * 1_023_977
    assert files(settings, "sized-failed/") == []


@pytest.mark.parametrize("error_prefix", ["raw/errors/", "transformed/!{timestamp:yyyy}/", "raw"])
def test_the_typed_streams_error_prefix_may_not_be_crawled(
    tmp_path: Path, error_prefix: str
) -> None:
    from trafficlake.config import load_settings
    from trafficlake.errors import ConfigError

    with pytest.raises(ConfigError, match="crawled folder"):
        load_settings(None, overrides={"delivery": {"error_prefix": error_prefix}})


def dynamic(query: str = "{customer: .customer_id, year: .event.year}") -> dict[str, Any]:
    return {
        **BUCKET,
        "Prefix": "by/customer=!{partitionKeyFromQuery:customer}/year=!{partitionKeyFromQuery:year}/",
        "ErrorOutputPrefix": "by-failed/!{firehose:error-output-type}/",
        "BufferingHints": {"SizeInMBs": 64},
        "DynamicPartitioningConfiguration": {"Enabled": True},
        "ProcessingConfiguration": {
            "Enabled": True,
            "Processors": [
                {
                    "Type": "MetadataExtraction",
                    "Parameters": [
                        {"ParameterName": "MetadataExtractionQuery", "ParameterValue": query},
                        {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                    ],
                },
                {"Type": "AppendDelimiterToRecord", "Parameters": []},
            ],
        },
    }


def test_dynamic_partitioning_lands_one_object_per_key(
    registry: StreamRegistry, settings: Settings
) -> None:
    registry.create("by", dynamic())
    stream = registry.get("by")
    records = [
        b'{"customer_id":"a","event":{"year":2024},"n":1}',
        b'{"customer_id":"b","event":{"year":2024},"n":2}',
        b'{"customer_id":"a","event":{"year":2024},"n":3}',
        b'{"customer_id":"a","event":{}}',
        b'{"customer_id":"../x","event":{"year":1}}',
        b"not json",
    ]
    assert stream.put_record_batch(records)["FailedPutCount"] == 0
    stream.flush()
    root = Path(settings.lake_url)
    landed = {str(p.relative_to(root).parent): p.read_bytes() for p in files(settings, "by/")}
    assert landed == {
        "by/customer=a/year=2024": records[0] + b"\n" + records[2] + b"\n",
        "by/customer=b/year=2024": records[1] + b"\n",
    }
    (failed,) = files(settings, "by-failed/")
    assert "/partitioning-failed/" in str(failed)
    errors = [json.loads(line) for line in failed.read_text().splitlines()]
    assert [base64.b64decode(e["rawData"]) for e in errors] == records[3:]
    assert all(e["errorCode"] == "DynamicPartitioning.MetadataExtractionFailed" for e in errors)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Prefix": "by/"}, "must use !{partitionKeyFromQuery"),
        ({"Prefix": "by/!{partitionKeyFromQuery:other}/"}, "extracts no key 'other'"),
        ({"BufferingHints": {"SizeInMBs": 5}}, "at least 64"),
        ({"ErrorOutputPrefix": ""}, "ErrorOutputPrefix is required"),
    ],
)
def test_dynamic_partitioning_rules(registry: StreamRegistry, change: Any, message: str) -> None:
    with pytest.raises(InvalidDestinationError, match=message):
        registry.create("by", {**dynamic(), **change})
    with pytest.raises(InvalidDestinationError, match="only a JQ object of paths"):
        registry.create("by", dynamic(".customer_id | ascii_downcase"))


def test_dynamic_partitioning_cannot_be_enabled_by_an_update(registry: StreamRegistry) -> None:
    registry.create("plain", {**BUCKET, "BufferingHints": {"SizeInMBs": 64}})
    update = {k: v for k, v in dynamic().items() if k not in BUCKET}
    with pytest.raises(InvalidArgumentError, match="cannot be enabled on an existing stream"):
        registry.update("plain", "1", update)
    registry.update("plain", "1", {"Prefix": "moved/"})
    assert registry.describe("plain")["VersionId"] == "2"
