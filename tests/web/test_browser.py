"""The dashboard in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by
Playwright, on the demo-built lake. Each view loads without console errors; the demo's jam is on
the list, the map and the time-space diagram; a click on an episode selects it everywhere; the
time-zone switch changes the times. Screenshots of each view go to docs/img/ci/ (CI artefacts).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chromium import ARGS, CHROMIUM

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "img" / "ci"
DAY1 = "2026-11-16"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (CI installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is missing: pip install playwright (the dev extra has it)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Page:
    """A browser page that records console errors and failed requests."""

    def __init__(self, browser: Any, base: str) -> None:
        self.page = browser.new_page(viewport={"width": 1440, "height": 1200})
        self.base = base
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        self.page.on(
            "response",
            lambda r: self.errors.append(f"{r.status}: {r.url}") if r.status >= 400 else None,
        )

    def open(self, path: str, ready: bool = True) -> Any:
        self.page.goto(self.base + path)
        if ready:
            self.page.wait_for_function("document.body.dataset.ready", timeout=30_000)
            assert self.page.evaluate("document.body.dataset.ready") == "1", self.errors
        return self.page

    def attr(self, selector: str, name: str) -> str:
        return str(self.page.get_attribute(selector, name) or "")

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser: Any, site: Any) -> Iterator[Page]:
    p = Page(browser, site.url)
    yield p
    p.page.close()


@pytest.mark.parametrize("path", ["/", "/detectors", "/lake"])
def test_each_view_loads_without_console_errors(page: Page, path: str) -> None:
    page.open(f"{path}?day={DAY1}", ready=path != "/lake")
    if path == "/lake":
        page.page.wait_for_selector("#chart .uplot")
    page.shot(path.strip("/") or "traffic")
    assert page.errors == []


def test_the_jam_shows_in_every_view_and_a_click_selects_it_everywhere(
    page: Page, site: Any
) -> None:
    jams = site.get("/api/jams", params={"day": DAY1}).json()["jams"]
    assert len(jams) >= 2, "the demo lake needs two jams on DAY1"
    p = page.open(f"/?day={DAY1}")
    rows = p.locator("#jams tbody tr[data-jam]")
    assert rows.count() == len(jams)
    worst = max(jams, key=lambda j: j["vehicle_hours_lost"])
    # on load the worst jam is selected in the list, on the map and in the diagram
    assert page.attr("#jams tr.selected", "data-jam") == worst["jam_id"]
    assert page.attr("#map", "data-selected-jam") == worst["jam_id"]
    assert int(page.attr("#map", "data-jammed")) >= len(worst["sections"])
    assert page.attr("#timespace", "data-selected-jam") == worst["jam_id"]
    assert page.attr("#timespace", "data-road") == f"{worst['road']}|{worst['direction']}"
    assert int(page.attr("#timespace", "data-jams")) >= 1
    assert page.attr("#chart", "data-lve") == str(worst["sections"][-1])
    # a click on another episode selects that one everywhere
    other = next(j for j in jams if j["jam_id"] != worst["jam_id"])
    p.click(f'#jams tr[data-jam="{other["jam_id"]}"]')
    p.wait_for_function(
        "id => document.getElementById('timespace').dataset.selectedJam === id",
        arg=other["jam_id"],
    )
    assert page.attr("#jams tr.selected", "data-jam") == other["jam_id"]
    assert p.locator("#jams tr.selected").count() == 1
    assert page.attr("#map", "data-selected-jam") == other["jam_id"]
    assert page.attr("#timespace", "data-road") == f"{other['road']}|{other['direction']}"
    at = int(page.attr("#map", "data-at"))
    assert other["start_ts"] <= at < other["end_ts"]
    p.wait_for_function(
        "lve => document.getElementById('chart').dataset.lve === lve",
        arg=str(other["sections"][-1]),
    )
    page.shot("traffic-selected")
    assert page.errors == []


def test_times_in_brussels_or_utc(page: Page) -> None:
    p = page.open(f"/?day={DAY1}")
    first = p.locator("#jams tbody tr[data-jam] td").first
    brussels = first.inner_text()
    p.check('input[name="tz"][value="UTC"]')
    utc = first.inner_text()
    # November: Brussels is UTC+1
    b_hour, u_hour = int(brussels[:2]), int(utc[:2])
    assert (b_hour - u_hour) % 24 == 1, (brussels, utc)
    assert "UTC" in p.inner_text("#map-time")
    p.reload()
    p.wait_for_function("document.body.dataset.ready")
    assert first.inner_text() == utc  # the choice is remembered
    p.check('input[name="tz"][value="Europe/Brussels"]')
    assert page.errors == []


def test_hover_shows_values(page: Page) -> None:
    p = page.open(f"/?day={DAY1}")
    canvas = p.locator("#timespace")
    box = canvas.bounding_box()
    assert box is not None
    canvas.hover(position={"x": box["width"] * 0.6, "y": box["height"] * 0.5})
    tip = p.locator("#timespace-tip")
    assert tip.is_visible() and "km" in tip.inner_text()
    over = p.locator("#chart .u-over")
    over.hover(position={"x": 200, "y": 80})
    over.hover(position={"x": 220, "y": 90})
    p.wait_for_function(
        "() => [...document.querySelectorAll('#chart .u-legend .u-value')]"
        ".some(v => /^[0-9]+[.][0-9]$/.test(v.textContent))"
    )
    values = p.locator("#chart .u-legend .u-value").all_inner_texts()
    assert values[0] != "-" and ":" in values[0], values  # the time under the cursor
    assert page.errors == []
