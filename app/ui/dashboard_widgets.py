"""The dashboard's parts: KPI cards, chart panels and bars that report a click."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget


def current_theme() -> Any:
    from app.ui import theme

    return theme.current()


class ClickableBars(pg.BarGraphItem):  # type: ignore[misc]
    """Bars that report which one was clicked (by index)."""

    def __init__(self, on_click: Any, **opts: Any) -> None:
        super().__init__(**opts)
        self._on_click = on_click
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def index_at(self, pos: QPointF) -> int | None:
        opts = self.opts
        horizontal = opts.get("x0") is not None and opts.get("y") is not None
        if horizontal:
            ys, h = list(opts["y"]), float(opts.get("height", 0.6))
            for i, y in enumerate(ys):
                if abs(pos.y() - y) <= h / 2 and 0 <= pos.x() <= float(opts["width"][i]):
                    return i
            return None
        xs, w = list(opts["x"]), float(opts.get("width", 0.6))
        for i, x in enumerate(xs):
            if abs(pos.x() - x) <= w / 2 and 0 <= pos.y() <= float(opts["height"][i]):
                return i
        return None

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802 (pyqtgraph API)
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        index = self.index_at(ev.pos())
        if index is not None:
            ev.accept()
            self._on_click(index)


class Card(QFrame):
    """A KPI: a big number, a label and a small note."""

    def __init__(self, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("kpiCard")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 10, 14, 10)
        lay.setSpacing(2)
        self.label = QLabel(label.upper())
        self.label.setObjectName("kpiLabel")
        self.value = QLabel("—")
        self.value.setObjectName("kpiValue")
        self.note = QLabel("")
        self.note.setObjectName("kpiNote")
        for w in (self.label, self.value, self.note):
            w.setTextFormat(Qt.TextFormat.PlainText)  # notes name tags and organizations
            lay.addWidget(w)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set(self, value: str, note: str = "", color: str | None = None) -> None:
        self.value.setText(value)
        self.note.setText(note)
        self.value.setStyleSheet(f"color: {color};" if color else "")


class ChartPanel(QFrame):
    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chartPanel")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 8)
        lay.setSpacing(4)
        head = QHBoxLayout()
        self.title = QLabel(title)
        self.title.setObjectName("chartTitle")
        self.subtitle = QLabel("")
        for w in (self.title, self.subtitle):
            w.setTextFormat(Qt.TextFormat.PlainText)
        self.subtitle.setObjectName("chartSubtitle")
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.subtitle)
        lay.addLayout(head)
        t = current_theme()
        self.plot = pg.PlotWidget(background=t.surface)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(pg.mkPen(t.border))
            axis.setTextPen(pg.mkPen(t.muted))
            font = QFont(self.font())
            font.setPointSizeF(max(7.5, font.pointSizeF() - 1))
            axis.setStyle(tickFont=font)
        self.plot.setMinimumHeight(190)
        lay.addWidget(self.plot, 1)

    @property
    def item(self) -> Any:
        return self.plot.getPlotItem()

    def clear(self) -> None:
        self.item.clear()
        legend = self.item.legend
        if legend is not None:
            legend.clear()
