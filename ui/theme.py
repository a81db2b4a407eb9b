"""Colours and icons: follow the system's light/dark palette, or force one.

"system" keeps Qt's platform palette (Qt 6.5+ follows the desktop's colour
scheme). "light" and "dark" switch to the Fusion style with a fixed palette,
which looks the same on every platform. Icons are SVGs in assets/ drawn in
`currentColor`; they are recoloured to the palette's text colour and rendered
at the screen's device pixel ratio, so they stay sharp on high-DPI screens and
readable in both themes.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def asset(name: str) -> Path:
    return ASSETS / name


def dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor("#202124"), QColor("#17181a"), QColor("#e8eaed")
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor("#26282b"),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor("#2d2f33"),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.Highlight: QColor("#3b82f6"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.ToolTipBase: window,
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor("#9aa0a6"),
        QPalette.ColorRole.Link: QColor("#8ab4f8"),
        QPalette.ColorRole.Mid: QColor("#5f6368"),
        QPalette.ColorRole.Light: QColor("#3c4043"),
        QPalette.ColorRole.Dark: QColor("#111214"),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b6f75"))
    return p


def light_palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: QColor("#f3f4f6"),
        QPalette.ColorRole.WindowText: QColor("#1f2328"),
        QPalette.ColorRole.Base: QColor("#ffffff"),
        QPalette.ColorRole.AlternateBase: QColor("#f6f8fa"),
        QPalette.ColorRole.Text: QColor("#1f2328"),
        QPalette.ColorRole.Button: QColor("#f6f8fa"),
        QPalette.ColorRole.ButtonText: QColor("#1f2328"),
        QPalette.ColorRole.Highlight: QColor("#2563eb"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.PlaceholderText: QColor("#6e7781"),
        QPalette.ColorRole.Link: QColor("#0b57d0"),
        QPalette.ColorRole.Mid: QColor("#8c959f"),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    return p


_system_palette: QPalette | None = None
_system_style: str | None = None


def apply_theme(app: QApplication, theme: str) -> None:
    """theme: system, light or dark."""
    global _system_palette, _system_style
    if _system_palette is None:
        _system_palette = QPalette(app.palette())
        _system_style = app.style().name()
    if theme == "dark":
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    elif theme == "light":
        app.setStyle("Fusion")
        app.setPalette(light_palette())
    else:
        if _system_style:
            app.setStyle(_system_style)
        app.setPalette(_system_palette)
    _render.cache_clear()


def is_dark(palette: QPalette | None = None) -> bool:
    palette = palette or QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """An icon from assets/<name>.svg, recoloured to `color` (default: the
    palette's text colour), with pixmaps for 1x and 2x screens."""
    if color is None:
        color = QGuiApplication.palette().color(QPalette.ColorRole.ButtonText)
    hexcolor = QColor(color).name()
    result = QIcon()
    for size in (16, 24, 32, 48, 64):
        result.addPixmap(QPixmap.fromImage(_render(name, hexcolor, size)))
    return result


@cache
def _render(name: str, color: str, size: int) -> QImage:
    # Cached as QImage, not QPixmap: a QPixmap must not outlive the QApplication,
    # and this cache lives until the interpreter exits.
    data = asset(f"{name}.svg").read_text(encoding="utf-8").replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(data.encode("utf-8")))
    image = QImage(QSize(size, size), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def app_icon() -> QIcon:
    return QIcon(str(asset("parley.svg")))
