"""Fixtures of the transform tests: a lake + catalog under tmp_path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from transform_lakes import LakeHarness

from trafficlake.config import Settings, load_settings
from trafficlake.storage import Lake


@pytest.fixture
def tlake(settings: Settings) -> LakeHarness:
    return LakeHarness(settings, Lake.from_settings(settings))


@pytest.fixture
def tlake_any(settings: Settings, catalog_url: str) -> LakeHarness:
    """The same, on each catalog backend (SQLite file, a fresh PostgreSQL database)."""
    s = load_settings(None, overrides={"catalog": {"url": catalog_url}})
    return LakeHarness(s, Lake.from_settings(s))
