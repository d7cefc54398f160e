"""Light and dark themes: a Fusion palette, a stylesheet and the pill colours.

The scheme follows the OS (``QStyleHints.colorScheme()``); when the platform reports
``Unknown`` the light theme is used. ``SMART_SUPPORT_THEME=light|dark`` overrides both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
ICONS = RESOURCES / "icons"
STYLES = RESOURCES / "styles"


@dataclass(frozen=True, slots=True)
class Theme:
    name: str
    window: str
    surface: str  # panels, list background
    sidebar: str
    text: str
    muted: str
    border: str
    accent: str
    accent_text: str
    selection: str
    hover: str
    internal_bg: str
    internal_border: str
    internal_text: str
    danger_bg: str
    danger_text: str
    input_bg: str

    @property
    def dark(self) -> bool:
        return self.name == "dark"


LIGHT = Theme(
    name="light", window="#f6f7f9", surface="#ffffff", sidebar="#eef0f4", text="#1d2330",
    muted="#6b7280", border="#dde1e8", accent="#3b5bdb", accent_text="#ffffff",
    selection="#dbe4ff", hover="#f1f3f8", internal_bg="#fff8db", internal_border="#f0d060",
    internal_text="#6b5200", danger_bg="#fdecec", danger_text="#a61b1b", input_bg="#ffffff",
)
DARK = Theme(
    name="dark", window="#181a20", surface="#1f222a", sidebar="#15171c", text="#e6e8ee",
    muted="#9aa1ae", border="#2e323d", accent="#6d8cff", accent_text="#0d1020",
    selection="#2c3a66", hover="#262a34", internal_bg="#3a3218", internal_border="#8a7324",
    internal_text="#f3dc8a", danger_bg="#4a1f22", danger_text="#ffb4b4", input_bg="#16181e",
)

# (background, foreground) per theme for the status and priority pills.
STATUS_COLORS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "new": (("#e0ecff", "#1c4fd6"), ("#1f3366", "#a9c4ff")),
    "open": (("#ffe8d6", "#b4480a"), ("#5a2e12", "#ffc49a")),
    "pending": (("#ece4ff", "#6336c9"), ("#3a2a66", "#cbb8ff")),
    "on-hold": (("#e9ebef", "#4b5563"), ("#333843", "#c3c8d2")),
    "solved": (("#dcf5e6", "#18794e"), ("#173f2c", "#8fe0b5")),
    "closed": (("#eceef1", "#6b7280"), ("#2a2d35", "#8b92a0")),
}
PRIORITY_COLORS: dict[str, tuple[str, str]] = {  # (light, dark) dot colours
    "low": ("#9aa3b2", "#6b7280"),
    "normal": ("#3b82f6", "#6d9dff"),
    "high": ("#f08c00", "#ffb547"),
    "urgent": ("#e03131", "#ff6b6b"),
}

_current: Theme = LIGHT


def current() -> Theme:
    return _current


def status_colors(status: str) -> tuple[QColor, QColor]:
    pair = STATUS_COLORS.get(status, STATUS_COLORS["closed"])
    bg, fg = pair[1] if _current.dark else pair[0]
    return QColor(bg), QColor(fg)


def priority_color(priority: str) -> QColor:
    light, dark = PRIORITY_COLORS.get(priority, PRIORITY_COLORS["normal"])
    return QColor(dark if _current.dark else light)


def choose_scheme() -> str:
    """``light`` or ``dark``: the env override, else the OS, else light."""
    forced = os.environ.get("SMART_SUPPORT_THEME", "").strip().lower()
    if forced in ("light", "dark"):
        return forced
    app = QApplication.instance()
    if isinstance(app, QApplication):
        scheme = app.styleHints().colorScheme()
        if scheme == Qt.ColorScheme.Dark:
            return "dark"
    return "light"


def _palette(t: Theme) -> QPalette:
    p = QPalette()
    roles = QPalette.ColorRole
    for role, color in (
        (roles.Window, t.window), (roles.WindowText, t.text), (roles.Base, t.surface),
        (roles.AlternateBase, t.hover), (roles.Text, t.text), (roles.Button, t.surface),
        (roles.ButtonText, t.text), (roles.Highlight, t.selection),
        (roles.HighlightedText, t.text), (roles.ToolTipBase, t.surface),
        (roles.ToolTipText, t.text), (roles.PlaceholderText, t.muted), (roles.Link, t.accent),
        (roles.Mid, t.border), (roles.Midlight, t.border), (roles.Dark, t.border),
        (roles.Light, t.surface), (roles.Shadow, t.border), (roles.BrightText, t.accent_text),
    ):
        p.setColor(role, QColor(color))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.Text, roles.WindowText, roles.ButtonText):
        p.setColor(disabled, role, QColor(t.muted))
    return p


def stylesheet(t: Theme) -> str:
    # app.qss, then the main window's additions (search, notifications, SLA views).
    template = "\n".join((STYLES / name).read_text(encoding="utf-8")
                         for name in ("app.qss", "main_window.qss")
                         if (STYLES / name).exists())
    for field in Theme.__dataclass_fields__:
        template = template.replace("@" + field + "@", str(getattr(t, field)))
    return template.replace("@icons@", ICONS.as_posix())


def apply_theme(app: QApplication, scheme: str | None = None) -> Theme:
    """Fusion style, the palette and the stylesheet for ``scheme`` (default: chosen)."""
    global _current
    _current = DARK if (scheme or choose_scheme()) == "dark" else LIGHT
    app.setStyle("Fusion")
    app.setPalette(_palette(_current))
    app.setStyleSheet(stylesheet(_current))
    icon.cache_clear()
    return _current


@cache
def icon(name: str, color: str | None = None, size: int = 18) -> QIcon:
    """An icon from ``resources/icons/<name>.svg`` drawn in ``color`` (default: text)."""
    path = ICONS / f"{name}.svg"
    if not path.exists():
        return QIcon()
    svg = path.read_text(encoding="utf-8").replace("#COLOR#", color or _current.muted)
    pix = QPixmap(QSize(size * 2, size * 2))
    pix.fill(Qt.GlobalColor.transparent)
    source = QPixmap()
    source.loadFromData(QByteArray(svg.encode()), "SVG")
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.drawPixmap(pix.rect(), source)
    painter.end()
    pix.setDevicePixelRatio(2.0)
    return QIcon(pix)
