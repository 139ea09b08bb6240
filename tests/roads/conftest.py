"""Fixtures of the roads tests: the transform's lake harness (raw rows -> crawl -> transform)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "transform"))

from transform_lakes import LakeHarness

from trafficlake.config import Settings
from trafficlake.storage import Lake


@pytest.fixture
def tlake(settings: Settings) -> LakeHarness:
    return LakeHarness(settings, Lake.from_settings(settings))
