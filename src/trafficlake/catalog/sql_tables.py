"""The relational schema of the SQL catalog (SQLite and PostgreSQL share it).

JSON-shaped fields (columns, parameters, file lists, run arguments) are stored as JSON text so
one schema serves both databases. Partition values and statistics are normalised into their
own tables so ``list_partitions(where=..., overlapping=...)`` filters inside the database.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

databases = sa.Table(
    "tl_databases",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("created_at", sa.Double, nullable=False),
)

tables = sa.Table(
    "tl_tables",
    metadata,
    sa.Column("database_name", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("columns", sa.Text, nullable=False),
    sa.Column("partition_keys", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("parameters", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

partitions = sa.Table(
    "tl_partitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("database_name", sa.String(255), nullable=False),
    sa.Column("table_name", sa.String(255), nullable=False),
    sa.Column("pvalues", sa.Text, nullable=False),
    # pvalues: JSON array of the partition values (strings, in key order)
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("files", sa.Text, nullable=False),
    sa.Column("row_count", sa.BigInteger),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("deprecated", sa.Boolean, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.UniqueConstraint("database_name", "table_name", "pvalues", name="uq_tl_partitions_values"),
    sa.Index("ix_tl_partitions_version", "database_name", "table_name", "version"),
)

partition_values = sa.Table(
    "tl_partition_values",
    metadata,
    sa.Column(
        "partition_id",
        sa.Integer,
        sa.ForeignKey("tl_partitions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("pos", sa.Integer, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("num_value", sa.Double),
    # num_value: the value as a number when it is one (so month=7 matches 07)
    sa.Index("ix_tl_partition_values_lookup", "pos", "num_value"),
)

partition_stats = sa.Table(
    "tl_partition_stats",
    metadata,
    sa.Column(
        "partition_id",
        sa.Integer,
        sa.ForeignKey("tl_partitions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("column_name", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),
    # kind: int | float | str | bool, how to give min/max back
    sa.Column("min_num", sa.Double),
    sa.Column("max_num", sa.Double),
    sa.Column("min_text", sa.Text),
    sa.Column("max_text", sa.Text),
)

counters = sa.Table(
    "tl_counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

crawlers = sa.Table(
    "tl_crawlers",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("targets", sa.Text, nullable=False),
    sa.Column("database_name", sa.String(255), nullable=False),
    sa.Column("table_prefix", sa.String(255), nullable=False),
    sa.Column("schema_change_policy", sa.String(16), nullable=False),
    sa.Column("delete_behavior", sa.String(16), nullable=False),
    sa.Column("recrawl_policy", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("current_run", sa.String(64)),
    sa.Column("created_at", sa.Double, nullable=False),
)

crawl_runs = sa.Table(
    "tl_crawl_runs",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("crawler", sa.String(255), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Double),
    sa.Column("ended_at", sa.Double),
    sa.Column("tables_created", sa.Integer, nullable=False, default=0),
    sa.Column("tables_updated", sa.Integer, nullable=False, default=0),
    sa.Column("partitions_added", sa.Integer, nullable=False, default=0),
    sa.Column("partitions_updated", sa.Integer, nullable=False, default=0),
    sa.Column("partitions_removed", sa.Integer, nullable=False, default=0),
    sa.Column("error_message", sa.Text),
    sa.Column("messages", sa.Text, nullable=False),
    sa.Column("owner", sa.String(255), nullable=False),
)

bookmarks = sa.Table(
    "tl_bookmarks",
    metadata,
    sa.Column("job", sa.String(255), primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

job_runs = sa.Table(
    "tl_job_runs",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(255), nullable=False, unique=True),
    sa.Column("job", sa.String(255), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("arguments", sa.Text, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("started_at", sa.Double),
    sa.Column("ended_at", sa.Double),
    sa.Column("owner", sa.String(255), nullable=False),
)

executions = sa.Table(
    "tl_executions",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(512), nullable=False, unique=True),
    sa.Column("state_machine", sa.String(255), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("input", sa.Text),
    sa.Column("output", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("cause", sa.Text),
    sa.Column("started_at", sa.Double),
    sa.Column("stopped_at", sa.Double),
    sa.Column("owner", sa.String(255), nullable=False),
)

history_events = sa.Table(
    "tl_history_events",
    metadata,
    sa.Column("execution_id", sa.String(512), primary_key=True),
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("timestamp", sa.Double, nullable=False),
    sa.Column("previous_event_id", sa.Integer, nullable=False),
    sa.Column("details", sa.Text, nullable=False),
)

query_executions = sa.Table(
    "tl_query_executions",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("statement_type", sa.String(16), nullable=False),
    sa.Column("substatement_type", sa.String(64), nullable=False),
    sa.Column("database_name", sa.String(255), nullable=False),
    sa.Column("catalog_name", sa.String(255), nullable=False),
    sa.Column("work_group", sa.String(128), nullable=False, index=True),
    sa.Column("output_location", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("statistics", sa.Text, nullable=False),
    sa.Column("submitted_at", sa.Double),
    sa.Column("completed_at", sa.Double),
    sa.Column("owner", sa.String(255), nullable=False),
)

table_definitions = sa.Table(
    "tl_table_definitions",
    metadata,
    sa.Column("database_name", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),
    # definition: JSON of the Glue TableInput fields the model has no column for
)

resources = sa.Table(
    "tl_resources",
    metadata,
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)
