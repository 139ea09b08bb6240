"""Catalog-area fixtures: a catalog on each backend; settings, catalog and lake in one bundle."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trafficlake.catalog import Catalog, open_catalog
from trafficlake.config import Settings, load_settings
from trafficlake.storage import Lake

sys.path.insert(0, str(Path(__file__).parent))  # catalog_rows, the suites' shared rows


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    with open_catalog(catalog_url) as cat:
        yield cat


@dataclass
class CrawlEnv:
    settings: Settings
    catalog: Catalog
    lake: Lake
    raw: Any
    """The RawLakeWriter fixture (tests/conftest.py)."""


@pytest.fixture
def crawl_env(settings: Settings, catalog_url: str, raw_writer: Any) -> Iterator[CrawlEnv]:
    s = load_settings(None, overrides={"catalog": {"url": catalog_url}})
    with open_catalog(s) as cat:
        yield CrawlEnv(s, cat, Lake.from_settings(s), raw_writer)
