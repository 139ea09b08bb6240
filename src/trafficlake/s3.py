"""S3 settings: the one place that reads ``[s3]`` (:func:`resolve_endpoint`, used by the lake
too) and turns it into engine config.

- :func:`configure_duckdb` loads DuckDB's httpfs extension (offline, from the
  ``duckdb-extension-httpfs`` wheel) and creates an S3 secret for the endpoint, so DuckDB reads
  ``s3://`` URIs itself (hive partitions, footers, range requests) with no Python in the path.
- :func:`spark_s3a_conf` generates the Hadoop ``s3a`` configuration for Spark and
  :func:`to_s3a` maps ``s3://`` URIs to ``s3a://``. Spark additionally needs the hadoop-aws jar
  (see docs/scale-out.md); executors then read and write S3 themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trafficlake.errors import MissingExtraError, TrafficlakeError
from trafficlake.sqlquote import quote_literal

if TYPE_CHECKING:
    from trafficlake.config import Settings

SECRET_NAME = "trafficlake_s3"


class HttpfsUnavailableError(TrafficlakeError):
    """DuckDB's httpfs extension cannot be loaded, so DuckDB cannot read an S3 lake."""


@dataclass(frozen=True)
class S3Endpoint:
    """The resolved S3 connection settings (credentials fall back to the AWS env vars)."""

    endpoint: str
    """``host[:port]`` of an S3-compatible server; empty for AWS."""
    use_ssl: bool
    region: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    path_style: bool

    @property
    def endpoint_url(self) -> str:
        return f"{'https' if self.use_ssl else 'http'}://{self.endpoint}" if self.endpoint else ""


def is_s3_url(url: str) -> bool:
    return url.startswith(("s3://", "s3a://"))


def resolve_endpoint(settings: Settings) -> S3Endpoint:
    """The one reading of ``[s3]`` (endpoint URL, credentials with the AWS environment
    variables as fallback) that the lake, DuckDB and Spark connect with."""
    s3 = settings.s3
    scheme, sep, host = s3.endpoint_url.partition("://")
    endpoint = (host if sep else s3.endpoint_url).rstrip("/")
    use_ssl = scheme != "http" if sep else True
    key = s3.access_key_id or os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret = s3.secret_access_key or os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    token = "" if s3.access_key_id else os.environ.get("AWS_SESSION_TOKEN", "")
    return S3Endpoint(endpoint, use_ssl, s3.region, key, secret, token, s3.path_style)


# ---- DuckDB ---------------------------------------------------------------------------------
def httpfs_extension_path() -> Path | None:
    """The httpfs extension file shipped by the ``duckdb-extension-httpfs`` wheel, if any."""
    try:
        import duckdb
        import duckdb_extension_httpfs
    except ImportError:
        return None
    base = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    version = duckdb.__version__.lstrip("v")
    candidate = base / f"v{version}" / "httpfs.duckdb_extension"
    return candidate if candidate.is_file() else None


def load_httpfs(con: Any) -> None:
    """Load httpfs: from the wheel (offline), else an already installed copy."""
    loaded = con.execute(
        "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'"
    ).fetchone()
    if loaded and loaded[0]:
        return
    path = httpfs_extension_path()
    if path is not None:
        con.execute(f"LOAD {quote_literal(str(path))}")
        return
    try:
        con.execute("LOAD httpfs")
    except Exception as exc:
        if "not found" in str(exc) or "install" in str(exc).lower():
            raise MissingExtraError("duckdb-extension-httpfs", "aws") from None
        raise HttpfsUnavailableError(f"cannot load DuckDB's httpfs extension: {exc}") from None


def configure_duckdb(con: Any, settings: Settings) -> None:
    """Make ``con`` read and write the ``s3://`` lake of ``settings`` (no-op for a local lake)."""
    if not is_s3_url(settings.lake_url):
        return
    load_httpfs(con)
    con.execute(duckdb_secret_sql(resolve_endpoint(settings)))


def duckdb_secret_sql(ep: S3Endpoint) -> str:
    """``CREATE OR REPLACE SECRET`` for the endpoint (temporary: lives with the connection)."""
    opts = [
        "TYPE s3",
        f"REGION {quote_literal(ep.region)}",
        f"URL_STYLE {quote_literal('path' if ep.path_style else 'vhost')}",
        f"USE_SSL {'true' if ep.use_ssl else 'false'}",
    ]
    if ep.endpoint:
        opts.append(f"ENDPOINT {quote_literal(ep.endpoint)}")
    if ep.access_key_id:
        opts.append(f"KEY_ID {quote_literal(ep.access_key_id)}")
        opts.append(f"SECRET {quote_literal(ep.secret_access_key)}")
    if ep.session_token:
        opts.append(f"SESSION_TOKEN {quote_literal(ep.session_token)}")
    return f"CREATE OR REPLACE TEMPORARY SECRET {SECRET_NAME} ({', '.join(opts)})"


# ---- Spark (s3a) ----------------------------------------------------------------------------
def to_s3a(uri: str) -> str:
    """``s3://bucket/key`` → ``s3a://bucket/key`` (Hadoop's S3 connector); others unchanged."""
    return "s3a://" + uri[len("s3://") :] if uri.startswith("s3://") else uri


def spark_s3a_conf(settings: Settings) -> dict[str, str]:
    """Spark conf entries (``spark.hadoop.fs.s3a.*``) for the lake's S3 endpoint."""
    ep = resolve_endpoint(settings)
    prefix = "spark.hadoop.fs.s3a."
    conf = {
        prefix + "impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        prefix + "path.style.access": "true" if ep.path_style else "false",
        prefix + "connection.ssl.enabled": "true" if ep.use_ssl else "false",
        prefix + "endpoint.region": ep.region,
    }
    if ep.endpoint:
        conf[prefix + "endpoint"] = ep.endpoint_url
    if ep.access_key_id:
        conf[prefix + "access.key"] = ep.access_key_id
        conf[prefix + "secret.key"] = ep.secret_access_key
        if ep.session_token:
            conf[prefix + "session.token"] = ep.session_token
            conf[prefix + "aws.credentials.provider"] = (
                "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
            )
        else:
            conf[prefix + "aws.credentials.provider"] = (
                "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
            )
    return conf
