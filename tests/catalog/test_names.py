"""Table naming: one rule (prefix + the folder's last component) for every table trafficlake names."""

from __future__ import annotations

import pytest

from trafficlake.catalog.names import (
    TableRef,
    locations_table,
    raw_table,
    table_name,
    transformed_table,
)
from trafficlake.config import load_settings


def test_table_name_is_the_prefix_and_the_folders_last_component() -> None:
    assert table_name("", "raw/") == "raw"
    assert table_name("miv_", "transformed/") == "miv_transformed"
    assert table_name("miv_", "exports/daily/") == "miv_daily"
    assert table_name("p_", "") == "p_root"


def test_settings_name_every_table_in_the_configured_database() -> None:
    s = load_settings(None, overrides={"catalog": {"database": "verkeer", "table_prefix": "x_"}})
    assert raw_table(s) == TableRef("verkeer", "x_raw")
    assert transformed_table(s) == TableRef("verkeer", "x_transformed")
    assert str(locations_table(s)) == "verkeer.x_locations"


def test_sql_form_quotes_both_parts() -> None:
    assert TableRef("my db", 'we"ird').sql == '"my db"."we""ird"'


def test_partition_folders_are_hive_paths_below_the_table() -> None:
    from trafficlake.catalog.names import hive_path, partition_folder

    assert hive_path(["year", "month"], [2026, "11"]) == "year=2026/month=11"
    assert partition_folder("t/", ["year", "month"], ["2026", "11"]) == "t/year=2026/month=11/"
    assert partition_folder("t/", [], []) == "t/"
    with pytest.raises(ValueError, match="1 partition values for the 2 keys"):
        partition_folder("t/", ["year", "month"], ["2026"])
