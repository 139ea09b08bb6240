"""Catalog-area fixtures: settings, catalog (each backend) and lake in one bundle."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from trafficlake.catalog import Catalog, open_catalog
from trafficlake.config import Settings, load_settings
from trafficlake.storage import Lake


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
