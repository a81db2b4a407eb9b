"""Render the app icon (assets/parley.svg, as the window shows it) into the
raster icons the installers need.

    python packaging/render_icons.py OUT_DIR

writes parley-256.png and parley-512.png (Linux menu, PyInstaller), parley.ico
(Windows: exe and Inno Setup) and parley.icns (macOS .app). Qt renders the SVG
(PySide6 is already a dependency, and runs headless with the offscreen
platform); Pillow writes ICO and ICNS, which Qt can only write with plugins
PySide6-Essentials does not ship.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SVG = Path(__file__).resolve().parents[1] / "assets" / "parley.svg"


def render_png(svg: Path, size: int, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out)):
        raise SystemExit(f"render_icons: could not write {out}")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    for size in (256, 512):
        render_png(SVG, size, out / f"parley-{size}.png")

    from PIL import Image

    big = Image.open(out / "parley-512.png")
    big.save(out / "parley.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    big.save(out / "parley.icns")
    print(f"icons written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
