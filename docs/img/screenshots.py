"""Screenshots of the dashboard for the README: `make screenshots`.

Serves the lake of ``--config`` (default: the demo folder ``trafficlake-demo``, made by
``trafficlake demo``) on a free port and photographs each page in headless Chromium
(/usr/bin/chromium driven by Playwright, as the browser tests do) into docs/img/.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests"))

from chromium import ARGS, CHROMIUM  # noqa: E402  (the browser tests' launch settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="trafficlake-demo/trafficlake.toml")
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("trafficlake")
    server = subprocess.Popen([str(exe), "serve", "--config", args.config, "--port", str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/api/days", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            for path, name in (("/", "traffic"), ("/detectors", "detectors"), ("/lake", "lake")):
                page.goto(base + path)
                if name == "lake":
                    page.wait_for_selector("#chart .uplot")
                else:
                    page.wait_for_function("document.body.dataset.ready")
                page.wait_for_timeout(500)
                page.screenshot(path=str(HERE / f"{name}.png"), full_page=True)
                print(f"wrote {HERE / f'{name}.png'}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
