"""Typed settings: ``trafficlake.toml`` (or ``--config PATH``) over embedded defaults, then env.

Every section is a frozen dataclass; unknown keys and values of the wrong type raise
:class:`ConfigError` with a one-line message naming the key. Environment variables of the form
``TRAFFICLAKE_<SECTION>__<KEY>`` (for example ``TRAFFICLAKE_LAKE__URL=s3://b/lake``) override the
file. Relative local paths are resolved against the config file's folder (or the working folder
when no file is used).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trafficlake.errors import ConfigError

DEFAULT_CONFIG_NAME = "trafficlake.toml"
ENV_PREFIX = "TRAFFICLAKE_"


@dataclass(frozen=True)
class LakeSettings:
    url: str = "./lake"
    """Lake root: a local folder or ``s3://bucket/prefix``."""


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str = ""
    """S3-compatible endpoint such as ``http://127.0.0.1:9000``; empty for AWS."""
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = ""
    path_style: bool = True


@dataclass(frozen=True)
class CatalogSettings:
    url: str = ""
    """SQLAlchemy-style URL: ``sqlite:///path.db`` or ``postgresql://user@host/db``.
    Empty: a SQLite file ``catalog.db`` next to a local lake (in the working folder for S3)."""
    database: str = "traffic"
    table_prefix: str = ""
    stats_columns: list[str] = field(default_factory=lambda: ["tijd_waarneming", "recordTimestamp"])
    """Columns whose min/max are read from Parquet footers into partition statistics."""
    busy_timeout_s: float = 60.0
    """How long a SQLite catalog waits for another process's lock before a one-line error."""


@dataclass(frozen=True)
class DeliverySettings:
    stream_name: str = "miv"
    prefix: str = (
        "raw/year=!{timestamp:yyyy}/month=!{timestamp:M}/day=!{timestamp:d}/hour=!{timestamp:H}/"
    )
    error_prefix: str = (
        "errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:M}"
        "/day=!{timestamp:d}/hour=!{timestamp:H}/"
    )
    buffer_size_mb: int = 64
    buffer_interval_s: int = 300
    format: str = "parquet"
    compression: str = "zstd"
    wal_dir: str = "./.trafficlake/wal"
    host: str = "127.0.0.1"
    port: int = 4573
    token: str = ""
    """Shared secret for ``firehose serve``; empty disables the check."""


@dataclass(frozen=True)
class IngestSettings:
    feed_url: str = "http://miv.opendata.belfla.be/miv/verkeersdata"
    config_url: str = "http://miv.opendata.belfla.be/miv/configuratie/xml"
    poll_interval_s: float = 60.0
    timeout_s: float = 30.0
    retries: int = 5
    max_ahead_s: int = 86_400
    """Feed timestamps later than their arrival plus this are quarantined (a document whose
    ``tijd_publicatie`` is, whole)."""
    max_age_days: int = 0
    """Feed timestamps older than their arrival minus this many days are quarantined (a
    document whose ``tijd_publicatie`` is, whole); 0: only those before 2000."""


@dataclass(frozen=True)
class SimulatorSettings:
    seed: int = 42
    lanes: int = 4600
    start: str = ""
    """ISO date or datetime (UTC) of the first simulated minute; empty: yesterday 00:00 UTC."""
    minutes: int = 1440


@dataclass(frozen=True)
class TransformSettings:
    engine: str = "duckdb"
    jam_threshold_kmh: float = 40.0
    locations: list[int] = field(default_factory=list)
    """unieke_id values to keep; empty keeps every lane."""
    chunk_days: int = 1
    parallelism: int = 2
    memory_limit: str = "4GB"
    allow_lossy_casts: bool = False
    """Let the transform round raw integer columns held as non-integers (a double count);
    otherwise such raw files fail the run with an error naming the column and partitions."""


@dataclass(frozen=True)
class RoadsSettings:
    """Jam episodes and detector health (``trafficlake roads derive``); the jam threshold is
    ``transform.jam_threshold_kmh``."""

    jam_enter_minutes: int = 3
    jam_exit_minutes: int = 5
    free_flow_kmh: float = 0.0
    """0: each section's 85th percentile of off-peak speed."""
    stuck_minutes: int = 30
    min_valid_share: float = 0.8


@dataclass(frozen=True)
class SparkSettings:
    master: str = "local[*]"
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkflowSettings:
    wait_scale: float = 1.0
    """Multiplier applied to Wait states and retry intervals (tests and demos use < 1)."""
    definitions_dir: str = ""
    """Extra folder of ``*.asl.json`` / ``*.asl.yaml`` definitions besides the shipped ones."""
    serverless: list[str] = field(default_factory=list)
    """Files in the Serverless layout (``serverless.yml``, or the file its
    ``stepFunctions.stateMachines`` names): their state machines are known by name and their
    ``events: schedule`` run under ``schedule run``; a serverless.yml's ``functions:`` are Lambda
    functions and their schedule/eventBridge events EventBridge rules."""


CRAWLED = ("raw/", "transformed/")
"""The lake folders the default crawlers crawl (no error records may land inside them)."""


@dataclass(frozen=True)
class StreamEntry:
    """A delivery stream declared in the config (``[[streams]]``), served next to the typed one."""

    name: str = ""
    destination: dict[str, Any] = field(default_factory=dict)
    """Its ``ExtendedS3DestinationConfiguration``, with the keys CreateDeliveryStream takes."""


@dataclass(frozen=True)
class ScheduleEntry:
    name: str = ""
    expression: str = "rate(1 day)"
    state_machine: str = "batch"
    timezone: str = "UTC"
    input: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AwsSettings:
    host: str = "127.0.0.1"
    port: int = 4566
    token: str = ""
    """Shared secret clients send as their AWS access key id; empty: delivery.token, else none."""
    region: str = "us-east-1"
    account_id: str = "000000000000"
    buckets: dict[str, str] = field(default_factory=dict)
    """``s3://BUCKET`` → lake URL; a bucket not listed maps to the lake root."""
    max_connections: int = 2048
    idle_timeout_s: float = 60.0
    max_body_bytes: int = 8 * 1024 * 1024
    workers: int = 64


@dataclass(frozen=True)
class LambdaFunction:
    handler: str = ""
    """Lambda's ``FILE.FUNCTION`` (``handlers/RunDataCrawler/handler.handle``), relative to
    ``code_dir``."""
    code_dir: str = ""
    """Folder of the handler's code; empty: the config file's folder."""
    runtime: str = "python"
    """python | nodejs"""
    environment: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 3.0
    python: str = ""
    """Interpreter that has the handler's dependencies; empty: the one running trafficlake."""
    node: str = ""
    """Node.js binary; empty: ``node`` on PATH."""
    requirements: list[str] = field(default_factory=list)
    """pip requirements installed for this function besides its code folder's
    requirements.txt (what a Lambda layer would bring)."""


@dataclass(frozen=True)
class LambdaSettings:
    functions: dict[str, LambdaFunction] = field(default_factory=dict)
    python: str = ""
    """Default interpreter of python functions (one that has the handlers' dependencies, say
    a venv with a Serverless project's requirements.txt); empty: the one running trafficlake."""
    node: str = ""
    """Default Node.js binary; empty: ``node`` on PATH."""
    requirements: list[str] = field(default_factory=list)
    """pip requirements installed for every python function (a layer shared by all)."""
    deps_dir: str = "./.trafficlake/lambda"
    """Where functions' requirements.txt / package.json dependencies are installed, once per
    distinct set."""


@dataclass(frozen=True)
class RuleTarget:
    arn: str = ""
    """A Lambda function, state machine or Glue job (``arn:aws:glue:R:A:job/NAME``) ARN."""
    input: str = ""
    """Constant JSON input instead of the event."""


@dataclass(frozen=True)
class RuleEntry:
    """An EventBridge rule (``[[rules]]``): a schedule or an event pattern, and targets."""

    name: str = ""
    schedule: str = ""
    event_pattern: dict[str, Any] = field(default_factory=dict)
    state: str = "ENABLED"
    targets: list[RuleTarget] = field(default_factory=list)


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    query_timeout_s: float = 30.0
    """POST /api/query: a statement running longer (parsing included) is interrupted."""
    query_memory_limit: str = "1GB"
    """DuckDB memory limit of one user statement (it spills to a private temp folder)."""
    query_temp_limit: str = "4GB"
    """At most this much spilled to disk by one user statement."""
    query_workers: int = 2
    """User statements running at once (on threads of their own)."""
    query_queue: int = 16
    """User statements waiting for a worker; more get 503 with Retry-After."""
    query_queue_wait_s: float = 5.0
    """How long a statement waits for a worker before 503 with Retry-After."""
    max_body_bytes: int = 262_144
    """Request bodies over this many bytes get 413."""


@dataclass(frozen=True)
class Settings:
    lake: LakeSettings = field(default_factory=LakeSettings)
    s3: S3Settings = field(default_factory=S3Settings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)
    transform: TransformSettings = field(default_factory=TransformSettings)
    roads: RoadsSettings = field(default_factory=RoadsSettings)
    spark: SparkSettings = field(default_factory=SparkSettings)
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)
    schedules: list[ScheduleEntry] = field(default_factory=list)
    streams: list[StreamEntry] = field(default_factory=list)
    aws: AwsSettings = field(default_factory=AwsSettings)
    lambda_: LambdaSettings = field(default_factory=LambdaSettings)
    """The ``[lambda]`` section (``lambda`` is a Python keyword)."""
    rules: list[RuleEntry] = field(default_factory=list)
    """EventBridge rules (``[[rules]]``)."""
    web: WebSettings = field(default_factory=WebSettings)
    base_dir: Path = field(default_factory=Path.cwd)
    """Folder that relative paths are resolved against (not a TOML key)."""
    source: Path | None = None
    """The config file these settings came from, if any (not a TOML key)."""

    # ---- derived values -------------------------------------------------------------------
    @property
    def lake_url(self) -> str:
        """The lake root as an absolute local path or an ``s3://`` URL."""
        url = self.lake.url
        if "://" in url:
            return url.rstrip("/")
        return str(self.resolve_path(url))

    @property
    def catalog_url(self) -> str:
        if self.catalog.url:
            url = self.catalog.url
            if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
                rel = url[len("sqlite:///") :]
                if rel and rel != ":memory:" and not rel.startswith("file:"):  # file: URIs as given
                    return "sqlite:///" + str(self.resolve_path(rel))
            return url
        if self.lake_url.startswith("s3://"):
            return "sqlite:///" + str(self.resolve_path("catalog.db"))
        return "sqlite:///" + str(Path(self.lake_url).parent / "catalog.db")

    def resolve_path(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def replace(self, **sections: Any) -> Settings:
        return dataclasses.replace(self, **sections)


_NOT_KEYS = {"base_dir", "source"}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; convert the lossless cases."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {type(value).__name__}")
        return _build(tp, value, key)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
        return [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {type(value).__name__}")
        _, val_tp = typing.get_args(tp)
        if val_tp is Any:
            return dict(value)
        return {str(k): _coerce(v, val_tp, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.lower() in {"true", "1", "yes"}
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if tp is Any:
        return value
    raise ConfigError(f"{key}: unsupported setting type {_type_name(tp)}")


_KEYWORD_KEYS = {"lambda": "lambda_"}
"""TOML keys that are Python keywords -> their field names."""


def _build(cls: Any, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)} - _NOT_KEYS
    kwargs: dict[str, Any] = {}
    for toml_key, value in data.items():
        full = f"{prefix}.{toml_key}" if prefix else toml_key
        key = _KEYWORD_KEYS.get(toml_key, toml_key)
        if key not in names:
            raise ConfigError(f"unknown key '{full}'")
        kwargs[key] = _coerce(value, hints[key], full)
    return cls(**kwargs)


def _env_overrides(environ: typing.Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        out.setdefault(section, {})[key] = value
    return out


def _merge(base: dict[str, Any], over: dict[str, dict[str, str]]) -> dict[str, Any]:
    merged = dict(base)
    for section, values in over.items():
        current = merged.get(section, {})
        if not isinstance(current, dict):
            raise ConfigError(
                f"{section}: cannot override a non-table setting from the environment"
            )
        merged[section] = {**current, **values}
    return merged


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: typing.Mapping[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Load settings from ``path`` (or ``./trafficlake.toml`` if present), then the environment.

    ``overrides`` is a mapping of section → {key: value} applied last (used by tests and the CLI).
    """
    environ = os.environ if environ is None else environ
    source: Path | None = None
    data: dict[str, Any] = {}
    if path is not None:
        source = Path(path).expanduser().resolve()
        if not source.is_file():
            raise ConfigError(f"config file not found: {source}")
    elif Path(DEFAULT_CONFIG_NAME).is_file():
        source = Path(DEFAULT_CONFIG_NAME).resolve()
    if source is not None:
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: invalid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None
    data = _merge(data, _env_overrides(environ))
    if overrides:
        data = _merge(data, overrides)
    settings = _build(Settings, data, "")
    base_dir = source.parent if source is not None else Path.cwd()
    settings = dataclasses.replace(settings, base_dir=base_dir, source=source)
    settings = _with_serverless(settings)
    _validate(settings)
    return settings


def _with_serverless(s: Settings) -> Settings:
    """Add the functions of the ``[workflow] serverless`` files (and their schedule /
    eventBridge events as rules); the config's own ``[lambda.functions]`` and ``[[rules]]``
    win over ones of the same name."""
    if not s.workflow.serverless:
        return s
    from trafficlake.workflow.errors import WorkflowError
    from trafficlake.workflow.serverless import functions_of

    functions: dict[str, LambdaFunction] = {}
    rules: list[RuleEntry] = []
    for f in s.workflow.serverless:
        try:
            found = functions_of(s.resolve_path(f), s.aws.account_id)
        except WorkflowError as exc:
            raise ConfigError(f"workflow.serverless: {exc}") from None
        for fn in found:
            functions[fn.name] = LambdaFunction(
                handler=fn.handler,
                code_dir=fn.code_dir,
                runtime=fn.runtime,
                environment=fn.environment,
                timeout_s=fn.timeout_s,
            )
            arn = f"arn:aws:lambda:{s.aws.region}:{s.aws.account_id}:function:{fn.name}"
            for i, event in enumerate(fn.events):
                rules.append(
                    RuleEntry(
                        name=f"{fn.name}-event-{i + 1}",
                        schedule=event.get("schedule", ""),
                        event_pattern=event.get("event_pattern", {}),
                        targets=[RuleTarget(arn=arn)],
                    )
                )
    functions.update(s.lambda_.functions)
    declared = {r.name for r in s.rules}
    extra = [r for r in rules if r.name not in declared]
    lambda_ = dataclasses.replace(s.lambda_, functions=functions)
    return dataclasses.replace(s, lambda_=lambda_, rules=[*s.rules, *extra])


def _validate(s: Settings) -> None:
    def check(cond: bool, key: str, msg: str) -> None:
        if not cond:
            raise ConfigError(f"{key}: {msg}")

    check(1 <= s.delivery.buffer_size_mb <= 128, "delivery.buffer_size_mb", "must be 1..128")
    check(0 <= s.delivery.buffer_interval_s <= 900, "delivery.buffer_interval_s", "must be 0..900")
    check(s.delivery.format in {"parquet", "json"}, "delivery.format", "must be parquet or json")
    check(
        s.delivery.compression in {"zstd", "snappy", "gzip", "uncompressed"},
        "delivery.compression",
        "must be zstd, snappy, gzip or uncompressed",
    )
    check(1 <= s.delivery.port <= 65535, "delivery.port", "must be 1..65535")
    check(1 <= s.web.port <= 65535, "web.port", "must be 1..65535")
    check(0 <= s.aws.port <= 65535, "aws.port", "must be 0..65535")
    check(s.aws.max_connections >= 1, "aws.max_connections", "must be >= 1")
    check(s.aws.idle_timeout_s > 0, "aws.idle_timeout_s", "must be > 0")
    check(s.aws.max_body_bytes >= 1024, "aws.max_body_bytes", "must be >= 1024")
    check(s.aws.workers >= 2, "aws.workers", "must be >= 2")
    error_folder = s.delivery.error_prefix.split("!{", 1)[0]
    check(
        not any(error_folder.startswith(t) or t.startswith(error_folder + "/") for t in CRAWLED)
        or not error_folder,
        "delivery.error_prefix",
        "must not be inside a crawled folder (raw/, transformed/): error records would stop its crawls",
    )
    stream_names = [e.name for e in s.streams]
    for i, declared in enumerate(s.streams):
        where = f"streams[{i}].name"
        check(bool(declared.name), where, "is required")
        check(declared.name != s.delivery.stream_name, where, "is the typed stream's name")
        check(stream_names.count(declared.name) == 1, where, "is declared twice")
    for i, rule in enumerate(s.rules):
        check(bool(rule.name), f"rules[{i}].name", "is required")
        check(
            bool(rule.schedule) != bool(rule.event_pattern),
            f"rules[{i}]",
            "needs exactly one of schedule and event_pattern",
        )
        check(rule.state in {"ENABLED", "DISABLED"}, f"rules[{i}].state", "ENABLED or DISABLED")
    for name, fn in s.lambda_.functions.items():
        key = f"lambda.functions.{name}"
        check("." in fn.handler.rsplit("/", 1)[-1], f"{key}.handler", "must be FILE.FUNCTION")
        check(fn.runtime in {"python", "nodejs"}, f"{key}.runtime", "must be python or nodejs")
        check(0 < fn.timeout_s <= 900, f"{key}.timeout_s", "must be in (0, 900]")
    check(s.transform.engine in {"duckdb", "spark"}, "transform.engine", "must be duckdb or spark")
    check(s.transform.jam_threshold_kmh > 0, "transform.jam_threshold_kmh", "must be > 0")
    check(s.transform.chunk_days >= 1, "transform.chunk_days", "must be >= 1")
    check(s.transform.parallelism >= 1, "transform.parallelism", "must be >= 1")
    check(s.roads.jam_enter_minutes >= 1, "roads.jam_enter_minutes", "must be >= 1")
    check(s.roads.jam_exit_minutes >= 1, "roads.jam_exit_minutes", "must be >= 1")
    check(s.roads.free_flow_kmh >= 0, "roads.free_flow_kmh", "must be >= 0")
    check(s.roads.stuck_minutes >= 2, "roads.stuck_minutes", "must be >= 2")
    check(0 <= s.roads.min_valid_share <= 1, "roads.min_valid_share", "must be in 0..1")
    check(s.simulator.lanes >= 1, "simulator.lanes", "must be >= 1")
    check(s.simulator.minutes >= 1, "simulator.minutes", "must be >= 1")
    check(s.workflow.wait_scale >= 0, "workflow.wait_scale", "must be >= 0")
    check(s.ingest.poll_interval_s > 0, "ingest.poll_interval_s", "must be > 0")
    for key in ("feed_url", "config_url"):
        url = getattr(s.ingest, key)
        check(url.startswith(("http://", "https://")), f"ingest.{key}", "must be an http(s) URL")
    lake = s.lake.url
    check(
        "://" not in lake or lake.startswith("s3://"),
        "lake.url",
        "must be a local path or s3://bucket/prefix",
    )
    for i, entry in enumerate(s.schedules):
        check(bool(entry.name), f"schedules[{i}].name", "is required")


DEFAULT_TOML = """\
# trafficlake configuration. Every key is optional: delete a line to use its default.
# Environment variables TRAFFICLAKE_<SECTION>__<KEY> override this file,
# e.g. TRAFFICLAKE_LAKE__URL=s3://my-bucket/lake

[lake]
# Lake root: a local folder (relative to this file) or s3://bucket/prefix.
url = "./lake"

[s3]
# For S3-compatible servers (MinIO, moto, ...): the endpoint and path-style addressing.
# endpoint_url = "http://127.0.0.1:9000"
# region = "us-east-1"
# access_key_id = ""        # empty: the usual AWS credential chain
# secret_access_key = ""
# path_style = true

[catalog]
# Empty: a SQLite file catalog.db next to the lake. Or postgresql://user:pass@host:5432/db
# url = ""
database = "traffic"
# table_prefix = ""
# Columns whose min/max the crawler records per partition (used to plan transforms).
stats_columns = ["tijd_waarneming", "recordTimestamp"]
# busy_timeout_s = 60     # a SQLite catalog locked longer by another process: one-line error

[delivery]
# The Firehose analog that lands raw events under raw/ partitioned by arrival time.
stream_name = "miv"
# prefix = "raw/year=!{timestamp:yyyy}/month=!{timestamp:M}/day=!{timestamp:d}/hour=!{timestamp:H}/"
buffer_size_mb = 64       # 1..128
buffer_interval_s = 300   # 0..900
format = "parquet"        # parquet | json
compression = "zstd"      # zstd | snappy | gzip | uncompressed
wal_dir = "./.trafficlake/wal"
# firehose serve binds here; keep loopback unless you set a token.
host = "127.0.0.1"
port = 4573
# token = ""

[ingest]
feed_url = "http://miv.opendata.belfla.be/miv/verkeersdata"
config_url = "http://miv.opendata.belfla.be/miv/configuratie/xml"
poll_interval_s = 60
# Feed times outside [arrival - max_age_days, arrival + max_ahead_s] are quarantined.
# max_ahead_s = 86400
# max_age_days = 0        # 0: only times before 2000 are too old

[simulator]
seed = 42
lanes = 4600
# start = "2026-11-20"    # empty: yesterday 00:00 UTC
minutes = 1440

[transform]
engine = "duckdb"         # duckdb | spark
jam_threshold_kmh = 40.0
# Keep only these lanes (unieke_id); empty keeps all. The seed used:
# locations = [32, 37, 1840, 2125, 3388, 3391, 753, 1065, 3159, 2161, 216, 217, 1132]
chunk_days = 1
parallelism = 2
memory_limit = "4GB"
# allow_lossy_casts = false  # true: round raw integer columns held as doubles instead of failing

[roads]                   # jam episodes and detector health (trafficlake roads derive)
jam_enter_minutes = 3     # a jam starts after this many slow minutes (3-min speed <= threshold)
jam_exit_minutes = 5      # ... and ends after this many minutes that are not slow
free_flow_kmh = 0.0       # 0: each section's 85th percentile of off-peak speed
stuck_minutes = 30        # a detector repeating one non-zero reading this long is stuck
min_valid_share = 0.8     # a detector with fewer valid minutes is not to be trusted

[spark]
master = "local[*]"       # or spark://host:7077
# [spark.conf]
# "spark.executor.memory" = "4g"

[workflow]
wait_scale = 1.0          # < 1 shortens Wait states and retry intervals (never skips them)

# [[schedules]]
# name = "daily"
# expression = "cron(15 2 * * ? *)"
# state_machine = "batch"
# timezone = "Europe/Brussels"

[aws]
# `trafficlake aws serve`: Firehose, Glue, Athena, Step Functions, EventBridge and Lambda on one
# port. Keep loopback unless you set a token (clients send it as their AWS access key id).
host = "127.0.0.1"
port = 4566
# token = ""
region = "us-east-1"
account_id = "000000000000"
# [aws.buckets]             # s3://BUCKET/... locations; an unlisted bucket is the lake root
# "my-data-bucket" = "./lake"

[web]
host = "127.0.0.1"
port = 8080
# POST /api/query bounds: timeout (parsing included), memory and spill per statement,
# statements at once, waiting ones (more: 503 + Retry-After), request body size (413).
# query_timeout_s = 30
# query_memory_limit = "1GB"
# query_temp_limit = "4GB"
# query_workers = 2
# query_queue = 16
# query_queue_wait_s = 5
# max_body_bytes = 262144
"""


def write_default_config(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    target = Path(path)
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists (use --force to overwrite)")
    target.write_text(DEFAULT_TOML, encoding="utf-8")
    return target
