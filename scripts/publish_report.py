"""Copy a `scenelab reproduce` report.md into the docs with its figures, made small.

    python scripts/publish_report.py runs/reproduce-miniplaces20-small docs/study-miniplaces20.md

Every PNG the report shows is saved to docs/figures/<page name>/ as a 256-colour palette
image (a fraction of the size of matplotlib's RGBA output, the same to the eye) and the
report's links are pointed at the copies. Links to anything else are left as they are.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from PIL import Image

IMAGE_LINK = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<path>[^)]+\.png)\)")


def small_png(source: Path, target: Path) -> None:
    with Image.open(source) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    target.parent.mkdir(parents=True, exist_ok=True)
    palette.save(target, optimize=True)


def publish(report_dir: Path, page: Path) -> list[Path]:
    """Write ``page`` from ``report_dir``/report.md; returns the figures written."""
    figures = page.parent / "figures" / page.stem
    written: list[Path] = []

    def relink(match: re.Match[str]) -> str:
        source = report_dir / match["path"]
        if not source.is_file():
            raise SystemExit(f"{report_dir / 'report.md'}: links {match['path']}, which is missing")
        target = figures / match["path"].replace("/", "-").removeprefix("runs-")
        small_png(source, target)
        written.append(target)
        return f"![{match['alt']}]({target.relative_to(page.parent).as_posix()})"

    text = IMAGE_LINK.sub(relink, (report_dir / "report.md").read_text())
    page.write_text(text)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_dir", type=Path, help="the --out folder of scenelab reproduce")
    parser.add_argument("page", type=Path, help="the Markdown page to write")
    args = parser.parse_args()
    figures = publish(args.report_dir, args.page)
    size = sum(path.stat().st_size for path in figures)
    print(f"wrote {args.page} and {len(figures)} figures ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
