"""The dashboard page, its local assets, the ``serve`` command and the app's edge cases."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from trafficlake.config import Settings
from trafficlake.errors import MissingExtraError
from trafficlake.query import run_query

DAY1, DAY2 = "2026-11-16", "2026-11-17"  # as built by conftest.lake_settings


class _Refs(HTMLParser):
    """Every src/href of the page and the day picker's options."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.options: list[str] = []
        self.lve_rows: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.refs += [v for k, v in attrs if k in ("src", "href") and v is not None]
        if tag == "option" and a.get("value"):
            self.options.append(a["value"] or "")
        if tag == "tr" and a.get("data-lve"):
            self.lve_rows.append(a["data-lve"] or "")


def _parse(html: str) -> _Refs:
    parser = _Refs()
    parser.feed(html)
    return parser


@pytest.mark.parametrize(
    ("path", "script"),
    [
        ("/", "/static/traffic.js"),
        ("/detectors", "/static/detectors.js"),
        ("/lake", "/static/app.js"),
    ],
)
def test_pages_load_with_local_assets_only(site: Any, path: str, script: str) -> None:
    r = site.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = _parse(r.text)
    assert page.options == [DAY2, DAY1]  # newest first, from the catalog's partitions
    assets = [u for u in page.refs if u.startswith("/static/")]
    assert {script, "/static/common.js", "/static/style.css"} <= set(assets)
    for ref in page.refs:
        assert ref.startswith("/") and not ref.startswith("//"), f"non-local reference {ref}"
    for asset in assets:
        got = site.get(asset)
        assert got.status_code == 200, asset
        # no fetches from elsewhere: the only URLs are the SVG namespace (a name, not a
        # download) and the vendored library's source in its licence banner (a comment)
        text = re.sub(r"/\*!.*?\*/", "", got.text, flags=re.S)
        urls = set(re.findall(r"https?://[^\s\"')]+", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (asset, urls)
    assert "http://" not in r.text and "https://" not in r.text
    outline = site.get("/static/vendor/outline/belgium.geojson").json()
    assert outline["geometry"]["type"] == "MultiPolygon"


def test_dashboard_congestion_table_is_the_api_answer(site: Any) -> None:
    for day in (DAY1, DAY2):
        page = _parse(site.get("/lake", params={"day": day}).text)
        api = site.get("/api/locations/congestion", params={"day": day, "limit": 15}).json()
        assert page.lve_rows == [str(r["lve_nr"]) for r in api["locations"]]
    default = _parse(site.get("/lake").text)
    assert default.lve_rows == _parse(site.get("/lake", params={"day": DAY2}).text).lve_rows


def test_dashboard_pipeline_panel(site: Any) -> None:
    html = site.get("/lake").text
    rows = run_query(site.settings, "SELECT count(*) FROM traffic.transformed").rows[0][0]
    assert f"{rows:,}" in html
    for text in ("traffic.raw", "traffic.transformed", "Latest crawls", "SUCCEEDED", "batch:"):
        assert text in html


def test_dashboard_unknown_day_falls_back_with_a_notice(site: Any) -> None:
    for path in ("/", "/detectors"):
        r = site.get(path, params={"day": "1999-01-01"})
        assert r.status_code == 200 and 'data-day="2026-11-17"' in r.text
        assert "no transformed data on &#39;1999-01-01&#39;" in r.text
    r = site.get("/lake", params={"day": "1999-01-01"})
    assert r.status_code == 200
    assert "no transformed data on &#39;1999-01-01&#39;" in r.text
    assert _parse(r.text).lve_rows  # showing the latest day instead


def test_query_timeout(lake_settings: Settings, serve: Any) -> None:
    quick = serve(lake_settings, query_timeout_s=0.3)
    t0 = time.monotonic()
    r = quick.post(
        "/api/query", json={"sql": "SELECT sum(hash(range)) FROM range(1000000000000000)"}
    )
    assert r.status_code == 400 and r.json()["error"] == "query interrupted after 0.3 s"
    assert time.monotonic() - t0 < 10
    assert quick.post("/api/query", json={"sql": "SELECT 42"}).json()["rows"] == [[42]]


def test_empty_catalog(settings: Settings, serve: Any) -> None:
    empty = serve(settings)
    assert empty.get("/api/tables").json() == []
    assert empty.get("/api/days").json() == {"days": []}
    r = empty.get("/api/locations/congestion")
    assert r.status_code == 404 and "traffic.transformed is not in the catalog" in r.json()["error"]
    assert empty.get("/api/locations/1/timeseries?day=2026-11-16").status_code == 404
    for path in ("/", "/detectors", "/lake"):
        page = empty.get(path)
        assert page.status_code == 200 and "no transformed data yet" in page.text
    assert empty.get("/api/roads").status_code == 404
    assert empty.get("/api/jams").status_code == 404


def test_missing_extra_is_named(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from trafficlake.web import create_app

    monkeypatch.setitem(sys.modules, "fastapi", None)  # what `import fastapi` sees without it
    with pytest.raises(MissingExtraError) as err:
        create_app(settings)
    assert err.value.module == "fastapi" and err.value.extra == "web"
    assert "pip install 'trafficlake[web]'" in str(err.value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_command(lake_settings: Settings) -> None:
    port = _free_port()
    assert lake_settings.source is not None
    exe = Path(sys.executable).with_name("trafficlake")
    cmd = [str(exe), "serve", "--port", str(port), "--config", str(lake_settings.source)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/days", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        assert r.json() == {"days": [DAY1, DAY2]}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.stderr is not None and f"http://127.0.0.1:{port}/" in proc.stderr.read()


def test_serve_rejects_a_bad_port(lake_settings: Settings) -> None:
    exe = Path(sys.executable).with_name("trafficlake")
    cmd = [str(exe), "serve", "--port", "70000", "--config", str(lake_settings.source)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "1..65535" in done.stderr
