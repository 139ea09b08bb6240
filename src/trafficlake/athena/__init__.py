"""Athena SQL on trafficlake: Presto/Trino statements as Athena engine v3 runs them, on DuckDB
over the catalog (see docs/athena.md)."""
