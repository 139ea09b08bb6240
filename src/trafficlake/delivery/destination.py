"""``ExtendedS3DestinationConfiguration`` as Firehose takes it: parsed, validated, described.

:func:`parse_destination` checks a CreateDeliveryStream / UpdateDestination configuration the way
the AWS API does (types, ranges, allowed values, the prefix rules, the combinations it refuses) and
returns a :class:`Destination`: what the stream runs with. It raises
:class:`InvalidDestinationError` (AWS ``InvalidArgumentException``) with one line saying what is
wrong. :meth:`Destination.describe` gives the ``ExtendedS3DestinationDescription`` back, with the
defaults AWS fills in, so DescribeDeliveryStream reports what really runs.

Prefix rules (AWS's): a Prefix without expressions gets the default time prefix
``yyyy/MM/dd/HH/`` (UTC arrival time of the file's oldest record) appended; a Prefix with
expressions needs an ErrorOutputPrefix; only the ``timestamp`` and ``firehose`` namespaces exist
without dynamic partitioning; ``!{firehose:error-output-type}`` only in the ErrorOutputPrefix. An
ErrorOutputPrefix without expressions gets ``<error-output-type>/yyyy/MM/dd/HH/`` appended;
without an ErrorOutputPrefix errors go to ``<error-output-type>/yyyy/MM/dd/HH/``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trafficlake.delivery.errors import DeliveryError
from trafficlake.delivery.prefix import InvalidPrefixError, Prefix
from trafficlake.delivery.serde import SERDES, SerDe, SerDeConverter, UnsupportedSchemaError

if TYPE_CHECKING:
    from trafficlake.delivery.partitioning import Extraction
    from trafficlake.delivery.processing import LambdaProcessor


class InvalidDestinationError(DeliveryError):
    """The destination configuration is one AWS would refuse (InvalidArgumentException)."""


DEFAULT_TIME_PREFIX = "!{timestamp:yyyy/MM/dd/HH}/"
DEFAULT_ERROR_PREFIX = "!{firehose:error-output-type}/" + DEFAULT_TIME_PREFIX
COMPRESSION_FORMATS = ("UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY")
EXTENSIONS = {
    "UNCOMPRESSED": "",
    "GZIP": ".gz",
    "ZIP": ".zip",
    "Snappy": ".snappy",
    "HADOOP_SNAPPY": ".hsnappy",
}
PARQUET_CODECS = {"UNCOMPRESSED": None, "GZIP": "gzip", "SNAPPY": "snappy"}
ORC_CODECS = {"NONE": "uncompressed", "ZLIB": "zlib", "SNAPPY": "snappy"}
_BUCKET_ARN = re.compile(r"^arn:[^:]*:s3:::([\w.\-]{1,255})$")
_ROLE_ARN = re.compile(r"^arn:.*:iam::\d{12}:role/.+$")
_FILE_EXTENSION = re.compile(r"^$|^\.[0-9a-z!\-_.*'()]+$")
SUPPORTED_KEYS = {
    "RoleARN",
    "BucketARN",
    "Prefix",
    "ErrorOutputPrefix",
    "BufferingHints",
    "CompressionFormat",
    "EncryptionConfiguration",
    "CloudWatchLoggingOptions",
    "ProcessingConfiguration",
    "S3BackupMode",
    "DataFormatConversionConfiguration",
    "DynamicPartitioningConfiguration",
    "FileExtension",
    "CustomTimeZone",
}
MAX_PREFIX_CHARS = 1024


@dataclass(frozen=True)
class Conversion:
    """``DataFormatConversionConfiguration`` when enabled: table, deserializer, output format."""

    database: str
    table: str
    version_id: str
    serde: SerDe
    output: str  # "parquet" or "orc"
    codec: str | None
    parquet_options: dict[str, Any]


@dataclass(frozen=True)
class Destination:
    """A validated S3 destination: the configuration as given plus what it resolves to."""

    config: dict[str, Any]
    bucket: str
    prefix: str
    """The Prefix as evaluated (the default time prefix appended when it has no expression)."""
    error_prefix: str
    buffer_size_mb: int
    buffer_interval_s: int
    compression: str
    file_extension: str
    conversion: Conversion | None
    processor: LambdaProcessor | None = None
    extraction: Extraction | None = None

    def describe(self, columns: Sequence[tuple[str, str]] | None = None) -> dict[str, Any]:
        """The ``ExtendedS3DestinationDescription`` (AWS's defaults filled in)."""
        out = copy.deepcopy(self.config)
        out.setdefault("Prefix", "")
        out.setdefault("ErrorOutputPrefix", "")
        out["BufferingHints"] = {
            "SizeInMBs": self.buffer_size_mb,
            "IntervalInSeconds": self.buffer_interval_s,
        }
        out["CompressionFormat"] = self.compression
        out.setdefault("EncryptionConfiguration", {"NoEncryptionConfig": "NoEncryption"})
        out.setdefault("CloudWatchLoggingOptions", {"Enabled": False})
        out.setdefault("S3BackupMode", "Disabled")
        if "DataFormatConversionConfiguration" in out:
            out["DataFormatConversionConfiguration"].setdefault("Enabled", True)
        return out

    def converter(self, columns: Sequence[tuple[str, str]]) -> SerDeConverter:
        assert self.conversion is not None
        return SerDeConverter(columns, self.conversion.serde)


def _fail(message: str) -> InvalidDestinationError:
    return InvalidDestinationError(message)


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(f"{where} must be an object, not {type(value).__name__}")
    return value


def _string(value: Any, where: str, *, required: bool = False, max_len: int = 1024) -> str:
    if value is None:
        if required:
            raise _fail(f"{where} is required")
        return ""
    if not isinstance(value, str):
        raise _fail(f"{where} must be a string, not {type(value).__name__}")
    if required and not value:
        raise _fail(f"{where} must not be empty")
    if len(value) > max_len:
        raise _fail(f"{where} is {len(value)} characters; the limit is {max_len}")
    return value


def _int(value: Any, where: str, lo: int, hi: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"{where} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise _fail(f"{where} must be between {lo} and {hi}, not {value}")
    return value


def _bool(value: Any, where: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(f"{where} must be true or false, not {value!r}")
    return value


def _enabled(value: dict[str, Any], where: str) -> bool:
    return _bool(value.get("Enabled"), f"{where}.Enabled", True)


def _serde(deserializer: dict[str, Any]) -> SerDe:
    where = "InputFormatConfiguration.Deserializer"
    kinds = [k for k in deserializer if deserializer[k] is not None]
    if len(kinds) != 1 or kinds[0] not in SERDES:
        raise _fail(f"{where} needs exactly one of OpenXJsonSerDe or HiveJsonSerDe")
    kind = kinds[0]
    opts = _object(deserializer[kind], f"{where}.{kind}")
    if kind == "HiveJsonSerDe":
        formats = opts.get("TimestampFormats") or []
        if not isinstance(formats, list) or not all(isinstance(f, str) and f for f in formats):
            raise _fail(f"{where}.HiveJsonSerDe.TimestampFormats must be non-empty strings")
        unknown = set(opts) - {"TimestampFormats"}
        if unknown:
            raise _fail(f"{where}.HiveJsonSerDe: unknown field(s) {', '.join(sorted(unknown))}")
        return SerDe("HiveJsonSerDe", timestamp_formats=tuple(formats))
    mappings = _object(opts.get("ColumnToJsonKeyMappings"), f"{where}.OpenXJsonSerDe.Mappings")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in mappings.items()):
        raise _fail(f"{where}.OpenXJsonSerDe.ColumnToJsonKeyMappings must map strings to strings")
    unknown = set(opts) - {
        "ConvertDotsInJsonKeysToUnderscores",
        "CaseInsensitive",
        "ColumnToJsonKeyMappings",
    }
    if unknown:
        raise _fail(f"{where}.OpenXJsonSerDe: unknown field(s) {', '.join(sorted(unknown))}")
    return SerDe(
        "OpenXJsonSerDe",
        case_insensitive=_bool(opts.get("CaseInsensitive"), "CaseInsensitive", True),
        dots_to_underscores=_bool(
            opts.get("ConvertDotsInJsonKeysToUnderscores"), "ConvertDots...", False
        ),
        column_to_key=dict(mappings),
    )


def _output(serializer: dict[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
    where = "OutputFormatConfiguration.Serializer"
    kinds = [k for k in serializer if serializer[k] is not None]
    if len(kinds) != 1 or kinds[0] not in ("ParquetSerDe", "OrcSerDe"):
        raise _fail(f"{where} needs exactly one of ParquetSerDe or OrcSerDe")
    opts = _object(serializer[kinds[0]], f"{where}.{kinds[0]}")
    compression = _string(opts.get("Compression"), f"{where}.{kinds[0]}.Compression") or "SNAPPY"
    if kinds[0] == "ParquetSerDe":
        if compression not in PARQUET_CODECS:
            raise _fail(f"{where}.ParquetSerDe.Compression must be one of {list(PARQUET_CODECS)}")
        options: dict[str, Any] = {}
        page = _int(opts.get("PageSizeBytes"), "ParquetSerDe.PageSizeBytes", 65536, 2**31, 0)
        if page:
            options["data_page_size"] = page
        dictionary = _bool(opts.get("EnableDictionaryCompression"), "EnableDictionary...", True)
        options["use_dictionary"] = dictionary
        version = _string(opts.get("WriterVersion"), "ParquetSerDe.WriterVersion") or "V1"
        if version not in ("V1", "V2"):
            raise _fail("ParquetSerDe.WriterVersion must be V1 or V2")
        options["data_page_version"] = "1.0" if version == "V1" else "2.0"
        _int(opts.get("BlockSizeBytes"), "ParquetSerDe.BlockSizeBytes", 64 * 2**20, 2**40, 0)
        _int(opts.get("MaxPaddingBytes"), "ParquetSerDe.MaxPaddingBytes", 0, 2**31, 0)
        return "parquet", PARQUET_CODECS[compression], options
    if compression not in ORC_CODECS:
        raise _fail(f"{where}.OrcSerDe.Compression must be one of {list(ORC_CODECS)}")
    return "orc", ORC_CODECS[compression], {}


def _conversion(cfg: dict[str, Any]) -> Conversion | None:
    where = "DataFormatConversionConfiguration"
    if not cfg or not _enabled(cfg, where):
        return None
    schema = _object(cfg.get("SchemaConfiguration"), f"{where}.SchemaConfiguration")
    database = _string(
        schema.get("DatabaseName"), "SchemaConfiguration.DatabaseName", required=True
    )
    table = _string(schema.get("TableName"), "SchemaConfiguration.TableName", required=True)
    version = _string(schema.get("VersionId"), "SchemaConfiguration.VersionId") or "LATEST"
    if version != "LATEST":
        raise _fail(
            f"SchemaConfiguration.VersionId {version!r}: this catalog keeps no table versions; "
            "use LATEST"
        )
    inp = _object(cfg.get("InputFormatConfiguration"), f"{where}.InputFormatConfiguration")
    deserializer = _object(inp.get("Deserializer"), "InputFormatConfiguration.Deserializer")
    out = _object(cfg.get("OutputFormatConfiguration"), f"{where}.OutputFormatConfiguration")
    serializer = _object(out.get("Serializer"), "OutputFormatConfiguration.Serializer")
    kind, codec, options = _output(serializer)
    return Conversion(database, table, version, _serde(deserializer), kind, codec, options)


def _prefixes(prefix: str, error_prefix: str, keys: frozenset[str] | None) -> tuple[str, str]:
    """The evaluated templates, checked as AWS checks them (``keys``: dynamic partitioning's)."""
    for name, text in (("Prefix", prefix), ("ErrorOutputPrefix", error_prefix)):
        for m in re.finditer(r"!\{([^}:]*):", text):
            if m.group(1) == "partitionKeyFromLambda" or (
                m.group(1) == "partitionKeyFromQuery" and (keys is None or name != "Prefix")
            ):
                raise _fail(
                    f"{name}: !{{{m.group(1)}:...}} needs dynamic partitioning with a "
                    "MetadataExtractionQuery, in the Prefix"
                )
    if keys is not None and "!{partitionKeyFromQuery:" not in prefix:
        raise _fail("with dynamic partitioning the Prefix must use !{partitionKeyFromQuery:KEY}")
    has_expression = "!{" in prefix
    if has_expression and not error_prefix:
        raise _fail("ErrorOutputPrefix is required when Prefix contains expressions")
    full = prefix if has_expression else prefix + DEFAULT_TIME_PREFIX
    if not error_prefix:
        full_error = DEFAULT_ERROR_PREFIX
    elif "!{" in error_prefix:
        full_error = error_prefix
    else:
        full_error = error_prefix + DEFAULT_ERROR_PREFIX
    try:
        Prefix.parse(full, partition_keys=keys)
        Prefix.parse(full_error, error_prefix=True)
    except InvalidPrefixError as exc:
        raise _fail(str(exc)) from None
    return full, full_error


def parse_destination(config: Any) -> Destination:
    """Validate an ``ExtendedS3DestinationConfiguration`` (or an ``S3DestinationConfiguration``)."""
    cfg = _object(config, "ExtendedS3DestinationConfiguration")
    unknown = set(cfg) - SUPPORTED_KEYS
    if unknown:
        raise _fail(f"unsupported destination field(s): {', '.join(sorted(unknown))}")
    role = _string(cfg.get("RoleARN"), "RoleARN", required=True, max_len=512)
    if not _ROLE_ARN.match(role):
        raise _fail(f"RoleARN {role!r} is not an IAM role ARN")
    bucket_arn = _string(cfg.get("BucketARN"), "BucketARN", required=True, max_len=2048)
    m = _BUCKET_ARN.match(bucket_arn)
    if not m:
        raise _fail(f"BucketARN {bucket_arn!r} is not an S3 bucket ARN (arn:aws:s3:::NAME)")
    prefix = _string(cfg.get("Prefix"), "Prefix", max_len=MAX_PREFIX_CHARS)
    error_prefix = _string(cfg.get("ErrorOutputPrefix"), "ErrorOutputPrefix")
    conversion = _conversion(_object(cfg.get("DataFormatConversionConfiguration"), "DFCC"))
    from trafficlake.delivery.partitioning import parse_dynamic
    from trafficlake.delivery.processing import parse_processing

    processing = _object(cfg.get("ProcessingConfiguration"), "ProcessingConfiguration")
    extraction = parse_dynamic(cfg.get("DynamicPartitioningConfiguration"), processing)
    processor = parse_processing(processing or None, dynamic=extraction is not None)
    hints = _object(cfg.get("BufferingHints"), "BufferingHints")
    unknown = set(hints) - {"SizeInMBs", "IntervalInSeconds"}
    if unknown:
        raise _fail(f"BufferingHints: unknown field(s) {', '.join(sorted(unknown))}")
    big = conversion is not None or extraction is not None
    size = _int(hints.get("SizeInMBs"), "BufferingHints.SizeInMBs", 1, 128, 128 if big else 5)
    if big and size < 64:
        raise _fail(
            "BufferingHints.SizeInMBs must be at least 64 when data format conversion or "
            "dynamic partitioning is enabled"
        )
    interval = _int(hints.get("IntervalInSeconds"), "BufferingHints.IntervalInSeconds", 0, 900, 300)
    compression = _string(cfg.get("CompressionFormat"), "CompressionFormat") or "UNCOMPRESSED"
    if compression not in COMPRESSION_FORMATS:
        raise _fail(f"CompressionFormat must be one of {', '.join(COMPRESSION_FORMATS)}")
    if conversion and compression != "UNCOMPRESSED":
        raise _fail(
            "CompressionFormat must be UNCOMPRESSED when data format conversion is enabled "
            "(the serializer's Compression sets it)"
        )
    extension = _string(cfg.get("FileExtension"), "FileExtension", max_len=128)
    if not _FILE_EXTENSION.match(extension):
        raise _fail(f"FileExtension {extension!r} must start with '.' and use [0-9a-z!-_.*'()]")
    zone = _string(cfg.get("CustomTimeZone"), "CustomTimeZone", max_len=50)
    if zone not in ("", "UTC"):
        raise _fail(f"CustomTimeZone {zone!r}: only UTC is supported here")
    if _string(cfg.get("S3BackupMode"), "S3BackupMode") not in ("", "Disabled"):
        raise _fail("S3BackupMode Enabled is not supported")
    if extraction is not None and not error_prefix:
        raise _fail("ErrorOutputPrefix is required with dynamic partitioning")
    keys = extraction.names if extraction is not None else None
    full_prefix, full_error = _prefixes(prefix, error_prefix, keys)
    if not extension:
        extension = f".{conversion.output}" if conversion else EXTENSIONS[compression]
    return Destination(
        config=copy.deepcopy(cfg),
        bucket=m.group(1),
        prefix=full_prefix,
        error_prefix=full_error,
        buffer_size_mb=size,
        buffer_interval_s=interval,
        compression=compression,
        file_extension=extension,
        conversion=conversion,
        processor=processor,
        extraction=extraction,
    )


def check_columns(columns: Sequence[tuple[str, str]], destination: Destination) -> None:
    """Refuse a schema table whose columns the conversion cannot write (one line)."""
    try:
        destination.converter(columns)
    except UnsupportedSchemaError as exc:
        assert destination.conversion is not None
        c = destination.conversion
        raise _fail(f"table {c.database}.{c.table}: {exc}") from None
