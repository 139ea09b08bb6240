"""Headless Chromium for the dashboard's browser tests and the README's screenshots (one owner
of how it is started): Debian's /usr/bin/chromium driven by Playwright, never a browser
download; flags that keep it off the network this machine does not have."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
