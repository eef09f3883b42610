"""Render a report.html with headless Chromium and save a PNG screenshot of it.

    python scripts/screenshot_report.py runs/demo/report.html runs/demo/report.png

Needs Debian's chromium (`apt-get install -y chromium`). The page is loaded from disk
with networking off: a self-contained report renders completely anyway.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
)


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(page: Path, png: Path, width: int = 1200, height: int = 3000) -> Path:
    """Save a ``width`` x ``height`` screenshot of ``page`` to ``png``."""
    browser = find_browser()
    if browser is None:
        raise SystemExit("no chromium found: apt-get install -y chromium")
    png.parent.mkdir(parents=True, exist_ok=True)
    command = [
        browser,
        *FLAGS,
        f"--screenshot={png.resolve()}",
        f"--window-size={width},{height}",
        page.resolve().as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    if not png.is_file():
        raise SystemExit(f"chromium wrote no screenshot for {page}")
    return png


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="the HTML file")
    parser.add_argument("png", type=Path, help="where the screenshot goes")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=3000)
    args = parser.parse_args()
    print(screenshot(args.page, args.png, args.width, args.height))
    return 0


if __name__ == "__main__":
    sys.exit(main())
