"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from trafficlake.config import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Embedded defaults rooted in a temporary folder (lake, catalog, WAL all inside it)."""
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("TRAFFICLAKE_"):
            monkeypatch.delenv(name)
    return load_settings(None, overrides={"workflow": {"wait_scale": "0.01"}})
