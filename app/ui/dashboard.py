"""The analytics dashboard: KPI cards and pyqtgraph charts for a period, team and agent.

Data is loaded on the dashboard's own thread by
:func:`app.operations.insights.load_dashboard`, through the window's
:class:`~app.ui.bridge.Bridge` (``background``), so the result and any error come back on
the GUI thread. The UI thread never runs SQL.

Mount it with :func:`build_dashboard`; connect ``sig_open_cases`` to show the cases behind
a bar (the payload is a case-filter query string such as ``"status:pending team:billing"``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.days import day_label
from app.core.sla import format_duration
from app.operations.insights import is_model, load_dashboard, own_model
from app.ui.bridge import Bridge, describe
from app.ui.dashboard_widgets import Card, ChartPanel, ClickableBars, current_theme

if TYPE_CHECKING:
    from app.operations.insights import AnalyticsModel, DashboardData, Table
    from app.operations.store import Store

TAG_AXIS_MAX = 150  # px: longer tag names are elided on the Top tags chart
PERIODS = (("Last 7 days", 7), ("Last 30 days", 30), ("Last 90 days", 90),
           ("Last 180 days", 180))
STATUS_BAR_COLORS = {"new": "#4c7cf0", "open": "#f08c3c", "pending": "#8e6ae0",
                     "on-hold": "#8a94a6"}
CREATED_COLOR = "#4c7cf0"
SOLVED_COLOR = "#2f9e66"
MET_COLOR = "#2f9e66"
BREACHED_COLOR = "#e0484b"
RISK_COLOR = "#f0a020"
TAG_COLOR = "#5b6ee1"


class ModelSlot:
    """The dashboard's read model, or the factory that opens it on first use (on the worker:
    opening analytics.db is I/O). Jobs hold this, never the widget: a widget released last
    by a worker thread would be deleted off the GUI thread."""

    def __init__(self, source: AnalyticsModel | Callable[[], AnalyticsModel]) -> None:
        self._model: AnalyticsModel | None = source if is_model(source) else None
        self._factory = None if is_model(source) else source
        self._lock = threading.Lock()

    def get(self) -> AnalyticsModel:
        with self._lock:
            if self._model is None:
                assert callable(self._factory)
                self._model = self._factory()
            return self._model


class Dashboard(QWidget):
    sig_open_cases = Signal(object)
    """object: a case-filter query (str, e.g. ``"status:pending team:support"``) or a list of
    case ids: the cases behind a clicked bar. The main window opens them in the case list."""

    sig_loaded = Signal(object)
    """DashboardData: the data just shown (after every load); tests and screenshots wait on it."""

    sig_error = Signal(str)
    """str: loading failed; the message is meant for the agent."""

    def __init__(self, bridge: Bridge, model: AnalyticsModel | Callable[[], AnalyticsModel],
                 parent: QWidget | None = None,
                 executor: ThreadPoolExecutor | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        # A factory is resolved on the worker thread (opening analytics.db is I/O).
        self._slot = ModelSlot(model)
        self._executor = executor or ThreadPoolExecutor(max_workers=1,
                                                        thread_name_prefix="dashboard")
        self._own_executor = executor is None
        self._own_bridge = False  # build_dashboard made the bridge: shut it down with us
        self._generation = 0
        self.data: DashboardData | None = None
        self._drill: dict[str, list[str | None]] = {}
        self._build()
        self._style()

    # --- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(18, 14, 18, 14)
        root.setSpacing(12)
        bar = QHBoxLayout()
        title = QLabel("Analytics")
        title.setObjectName("dashTitle")
        bar.addWidget(title)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setObjectName("dashStatus")
        bar.addWidget(self.status, 1)  # the free width of the bar: the period fits in it
        self.period_combo = QComboBox()
        for label, days in PERIODS:
            self.period_combo.addItem(label, days)
        self.period_combo.setCurrentIndex(1)
        self.team_combo = QComboBox()
        self.team_combo.addItem("All teams", None)
        self.agent_combo = QComboBox()
        self.agent_combo.addItem("All agents", None)
        self.agent_combo.setMinimumWidth(150)
        for combo in (self.period_combo, self.team_combo, self.agent_combo):
            combo.currentIndexChanged.connect(lambda _i: self.reload())
            bar.addWidget(combo)
        self.csv_button = QToolButton()
        self.csv_button.setText("Export CSV")
        self.csv_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.csv_menu = QMenu(self.csv_button)
        self.csv_button.setMenu(self.csv_menu)
        self.png_button = QPushButton("Save PNG")
        self.png_button.clicked.connect(lambda: self.export_png())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(lambda: self.reload())
        for w in (self.csv_button, self.png_button, self.refresh_button):
            bar.addWidget(w)
        root.addLayout(bar)
        self._build_figures(root)

    def _build_figures(self, root: QVBoxLayout) -> None:
        cards = QHBoxLayout()
        cards.setSpacing(10)
        self.cards = {key: Card(label) for key, label in (
            ("backlog", "Open backlog"), ("created", "Created"), ("solved", "Solved"),
            ("first_response", "Median first response"), ("sla", "SLA compliance"),
            ("reopens", "Reopen rate"))}
        for card in self.cards.values():
            cards.addWidget(card)
        root.addLayout(cards)

        grid = QGridLayout()
        grid.setSpacing(12)
        self.backlog_chart = ChartPanel("Backlog by status")
        self.trend_chart = ChartPanel("Created vs solved per day")
        self.response_chart = ChartPanel("Response times (hours)")
        self.sla_chart = ChartPanel("SLA compliance")
        self.tags_chart = ChartPanel("Top tags")
        grid.addWidget(self.backlog_chart, 0, 0)
        grid.addWidget(self.trend_chart, 0, 1, 1, 2)
        grid.addWidget(self.response_chart, 1, 0)
        grid.addWidget(self.sla_chart, 1, 1)
        grid.addWidget(self.tags_chart, 1, 2)
        for col in range(3):
            grid.setColumnStretch(col, 1)
        root.addLayout(grid, 1)
        self.bars: dict[str, ClickableBars] = {}

    def _style(self) -> None:
        t = current_theme()
        self.setStyleSheet(f"""
            QLabel#dashTitle {{ font-size: 18px; font-weight: 600; color: {t.text}; }}
            QLabel#dashStatus {{ color: {t.muted}; padding-left: 10px; }}
            QFrame#kpiCard, QFrame#chartPanel {{ background: {t.surface};
                border: 1px solid {t.border}; border-radius: 8px; }}
            QLabel#kpiLabel {{ color: {t.muted}; font-size: 10px; font-weight: 600;
                letter-spacing: 0.5px; border: none; }}
            QLabel#kpiValue {{ color: {t.text}; font-size: 22px; font-weight: 600;
                border: none; }}
            QLabel#kpiNote {{ color: {t.muted}; font-size: 11px; border: none; }}
            QLabel#chartTitle {{ color: {t.text}; font-weight: 600; border: none; }}
            QLabel#chartSubtitle {{ color: {t.muted}; font-size: 11px; border: none; }}
        """)

    @property
    def model(self) -> AnalyticsModel:
        """The read model (opened on first use: call from the worker thread)."""
        return self._slot.get()

    # --- filters ---------------------------------------------------------------------
    def current_days(self) -> int:
        return int(self.period_combo.currentData() or 30)

    def current_team(self) -> str | None:
        value = self.team_combo.currentData()
        return str(value) if value else None

    def current_agent(self) -> str | None:
        value = self.agent_combo.currentData()
        return str(value) if value else None

    # --- loading ---------------------------------------------------------------------
    def reload(self) -> None:
        """Load the data for the chosen filters on the worker thread."""
        self._generation += 1
        generation = self._generation
        days, team, agent = self.current_days(), self.current_team(), self.current_agent()
        self.status.setText("Loading…")
        # The period is made on the worker: its days are those of the model's time zone.
        # The job holds the model's slot, not the widget (see ModelSlot).
        slot = self._slot
        self.bridge.background(
            self._executor, lambda: load_dashboard(slot.get(), days=days, team=team,
                                                   agent=agent),
            on_done=lambda data: self._loaded(generation, data),
            on_error=lambda exc: self._failed(generation, exc), track=False)

    def _loaded(self, generation: int, data: DashboardData) -> None:
        if generation == self._generation:  # else a newer load is on its way
            self.show_data(data)

    def _failed(self, generation: int, exc: Exception) -> None:
        if generation != self._generation:
            return
        self.status.setText("Could not load the figures")
        self.sig_error.emit(describe(exc))

    def show_data(self, data: DashboardData) -> None:
        self.data = data
        self._fill_combos(data)
        tables = data.tables
        self._drill = {name: list(t.drill) for name, t in tables.items()}
        self._draw_backlog(tables["backlog"])
        self._draw_trend(tables["created-vs-solved"])
        self._draw_response(tables["response-times"])
        self._draw_sla(tables["sla"])
        self._draw_tags(tables["top-tags"])
        self._fill_cards(data)
        self._fill_csv_menu(data)
        first, last = day_label(data.period.first_day), day_label(data.period.last_day)
        self.status.setText(f"{first} → {last}")
        self.status.setToolTip(f"{first} → {last} (days of {data.period.zone}) · loaded in "
                               f"{data.load_ms:.0f} ms")
        self.sig_loaded.emit(data)

    def _fill_combos(self, data: DashboardData) -> None:
        for combo, items, all_label in ((self.team_combo, data.teams, "All teams"),
                                        (self.agent_combo, data.agents, "All agents")):
            wanted = [(all_label, None)] + [(name, rec_id) for rec_id, name in items]
            have = [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]
            if have == wanted:
                continue
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for label, value in wanted:
                combo.addItem(label, value)
            index = combo.findData(current)
            combo.setCurrentIndex(max(index, 0))
            combo.blockSignals(False)

    # --- charts ----------------------------------------------------------------------
    def _bars(self, key: str, panel: ChartPanel, **opts: Any) -> ClickableBars:
        bars = ClickableBars(lambda i, key=key: self._bar_clicked(key, i), **opts)
        panel.item.addItem(bars)
        self.bars[key] = bars
        return bars

    def _bar_clicked(self, key: str, index: int) -> None:
        rows = self._drill.get(key) or []
        if 0 <= index < len(rows) and rows[index] is not None:
            self.sig_open_cases.emit(rows[index])

    def _draw_backlog(self, table: Table) -> None:
        panel = self.backlog_chart
        panel.clear()
        rows = [(r, d) for r, d in zip(table.rows, table.drill, strict=True)
                if r[0] == "status"]
        self._drill["backlog_status"] = [d for _, d in rows]
        values = [int(r[2]) for r, _ in rows]
        xs = list(range(len(rows)))
        brushes = [pg.mkBrush(STATUS_BAR_COLORS.get(str(r[1]), TAG_COLOR)) for r, _ in rows]
        self._bars("backlog_status", panel, x=xs, height=values, width=0.62, brushes=brushes,
                   pen=pg.mkPen(None))
        panel.plot.getAxis("bottom").setTicks([[(i, str(r[1])) for i, (r, _) in
                                                enumerate(rows)]])
        top = max(values or [1])
        for i, v in enumerate(values):
            label = pg.TextItem(f"{v:,}", color=current_theme().text, anchor=(0.5, 1.0))
            label.setPos(i, v)
            panel.item.addItem(label)
        panel.item.setYRange(0, top * 1.18, padding=0)
        panel.item.setXRange(-0.6, max(len(rows) - 0.4, 0.6), padding=0)
        panel.subtitle.setText(f"{sum(values):,} open · click a bar to list them")

    def _draw_trend(self, table: Table) -> None:
        panel = self.trend_chart
        panel.clear()
        item = panel.item
        if item.legend is None:
            item.addLegend(offset=(10, 5), labelTextColor=current_theme().muted)
        days = [str(r[0]) for r in table.rows]
        xs = list(range(len(days)))
        created = [int(r[1]) for r in table.rows]
        solved = [int(r[2]) for r in table.rows]
        item.plot(xs, created, pen=pg.mkPen(CREATED_COLOR, width=2), name="Created",
                  symbol="o", symbolSize=4, symbolBrush=CREATED_COLOR,
                  symbolPen=pg.mkPen(None))
        item.plot(xs, solved, pen=pg.mkPen(SOLVED_COLOR, width=2), name="Solved",
                  symbol="o", symbolSize=4, symbolBrush=SOLVED_COLOR, symbolPen=pg.mkPen(None))
        step = max(1, len(days) // 6)
        panel.plot.getAxis("bottom").setTicks(
            [[(i, days[i][5:]) for i in range(0, len(days), step)]])
        item.setYRange(0, max(created + solved + [1]) * 1.15, padding=0)
        item.setXRange(-0.5, max(len(days) - 0.5, 0.5), padding=0)
        panel.subtitle.setText(f"{sum(created):,} created · {sum(solved):,} solved")

    def _draw_response(self, table: Table) -> None:
        panel = self.response_chart
        panel.clear()
        labels, medians, p90s = [], [], []
        for r in table.rows:
            labels.append("First response" if r[0] == "first_response" else "Resolution")
            medians.append((r[2] or 0) / 60)
            p90s.append((r[3] or 0) / 60)
        xs = list(range(len(labels)))
        panel.item.addItem(pg.BarGraphItem(x=[x - 0.17 for x in xs], height=medians,
                                           width=0.32, brush=pg.mkBrush("#4c7cf0"),
                                           pen=pg.mkPen(None), name="median"))
        panel.item.addItem(pg.BarGraphItem(x=[x + 0.17 for x in xs], height=p90s, width=0.32,
                                           brush=pg.mkBrush("#a5b8f5"), pen=pg.mkPen(None)))
        for i in xs:
            for dx, v, tag in ((-0.17, medians[i], "median"), (0.17, p90s[i], "p90")):
                text = pg.TextItem(f"{tag}\n{v:.1f}h", color=current_theme().muted,
                                   anchor=(0.5, 1.0))
                text.setPos(i + dx, v)
                panel.item.addItem(text)
        panel.plot.getAxis("bottom").setTicks([[(i, lb) for i, lb in enumerate(labels)]])
        panel.item.setYRange(0, max(p90s + medians + [1]) * 1.3, padding=0)
        panel.item.setXRange(-0.6, len(labels) - 0.4, padding=0)
        panel.subtitle.setText("wall-clock hours")

    def _draw_sla(self, table: Table) -> None:
        panel = self.sla_chart
        panel.clear()
        labels = []
        met, breached, risk = [], [], []
        for r in table.rows:
            labels.append("First response" if r[0] == "first_response" else "Resolution")
            met.append(int(r[2]))
            breached.append(int(r[3]))
            risk.append(int(r[4]))
        xs = list(range(len(labels)))
        w = 0.24
        for dx, values, color, _name in ((-w, met, MET_COLOR, "met"),
                                        (0.0, breached, BREACHED_COLOR, "breached"),
                                        (w, risk, RISK_COLOR, "at risk")):
            panel.item.addItem(pg.BarGraphItem(x=[x + dx for x in xs], height=values,
                                               width=w * 0.92, brush=pg.mkBrush(color),
                                               pen=pg.mkPen(None)))
            for i, v in enumerate(values):
                text = pg.TextItem(f"{v:,}", color=current_theme().muted, anchor=(0.5, 1.0))
                text.setPos(i + dx, v)
                panel.item.addItem(text)
        pct = [r[6] for r in table.rows]
        panel.plot.getAxis("bottom").setTicks([[
            (i, f"{lb} · {p:.0f}%" if p is not None else lb)
            for i, (lb, p) in enumerate(zip(labels, pct, strict=True))]])
        panel.item.setYRange(0, max(met + breached + risk + [1]) * 1.2, padding=0)
        panel.item.setXRange(-0.6, len(labels) - 0.4, padding=0)
        # The legend is our own markup (constants only): rich text, unlike the other titles,
        # which may name tags and teams. Shown plain it read as raw HTML.
        panel.subtitle.setTextFormat(Qt.TextFormat.RichText)
        panel.subtitle.setText(
            f"<span style='color:{MET_COLOR}'>■</span> met &nbsp;"
            f"<span style='color:{BREACHED_COLOR}'>■</span> breached &nbsp;"
            f"<span style='color:{RISK_COLOR}'>■</span> at risk")

    def _draw_tags(self, table: Table) -> None:
        panel = self.tags_chart
        panel.clear()
        rows = table.rows[:8]
        n = len(rows)
        ys = [n - 1 - i for i in range(n)]
        widths = [int(r[1]) for r in rows]
        self._drill["top_tags"] = list(table.drill[:8])
        self._bars("top_tags", panel, x0=[0] * n, y=ys, width=widths, height=0.62,
                   brush=pg.mkBrush(TAG_COLOR), pen=pg.mkPen(None))
        # pyqtgraph drops a tick label wider than the axis: size the axis to the names
        # (within limits) and elide the rest, so that no bar goes unnamed.
        axis = panel.plot.getAxis("left")
        metrics = QFontMetrics(axis.style["tickFont"] or self.font())
        names = [str(r[0]) for r in rows]
        room = min(max([metrics.horizontalAdvance(n) for n in names] + [40]), TAG_AXIS_MAX)
        axis.setTicks([[(y, n if metrics.horizontalAdvance(n) <= room
                         else metrics.elidedText(n, Qt.TextElideMode.ElideRight, room))
                        for y, n in zip(ys, names, strict=True)]])
        axis.setWidth(room + 16)
        for y, v in zip(ys, widths, strict=True):
            text = pg.TextItem(f" {v:,}", color=current_theme().muted, anchor=(0.0, 0.5))
            text.setPos(v, y)
            panel.item.addItem(text)
        panel.item.setXRange(0, max(widths + [1]) * 1.2, padding=0)
        panel.item.setYRange(-0.6, max(n - 0.4, 0.6), padding=0)
        panel.subtitle.setText("cases created in the period")

    def _fill_cards(self, data: DashboardData) -> None:
        t = data.tables
        backlog = sum(int(r[2]) for r in t["backlog"].rows if r[0] == "status")
        created = sum(int(r[1]) for r in t["created-vs-solved"].rows)
        solved = sum(int(r[2]) for r in t["created-vs-solved"].rows)
        self.cards["backlog"].set(f"{backlog:,}", "cases open now")
        self.cards["created"].set(f"{created:,}", "in the period")
        self.cards["solved"].set(f"{solved:,}", f"net {solved - created:+,}",
                                 SOLVED_COLOR if solved >= created else None)
        fr = next((r for r in t["response-times"].rows if r[0] == "first_response"), None)
        if fr and fr[2] is not None:
            self.cards["first_response"].set(format_duration(int(fr[2] * 60_000)),
                                             f"p90 {format_duration(int(fr[3] * 60_000))}")
        else:
            self.cards["first_response"].set("—", "no replies yet")
        sla_rows = {r[0]: r for r in t["sla"].rows}
        fr_pct = sla_rows.get("first_response", [None] * 7)[6]
        res_pct = sla_rows.get("resolution", [None] * 7)[6]
        if fr_pct is None:
            self.cards["sla"].set("—", "nothing decided yet")
        else:
            color = MET_COLOR if fr_pct >= 90 else (RISK_COLOR if fr_pct >= 70
                                                    else BREACHED_COLOR)
            note = f"resolution {res_pct:.0f}%" if res_pct is not None else ""
            self.cards["sla"].set(f"{fr_pct:.0f}%", f"first response · {note}", color)
        reo = t["reopens"].rows[0] if t["reopens"].rows else None
        if reo and reo[3] is not None:
            self.cards["reopens"].set(f"{reo[3]:.1f}%", f"{reo[1]} of {reo[0]} solved")
        else:
            self.cards["reopens"].set("—", "nothing solved")

    # --- export ----------------------------------------------------------------------
    def _fill_csv_menu(self, data: DashboardData) -> None:
        self.csv_menu.clear()
        for name, table in data.tables.items():
            action = self.csv_menu.addAction(table.title or name)
            action.triggered.connect(lambda _c=False, n=name: self.export_csv(n))

    def export_csv(self, name: str, path: str | Path | None = None) -> Path | None:
        """Write table ``name`` as CSV (asks for a file when ``path`` is None)."""
        if self.data is None or name not in self.data.tables:
            return None
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Export CSV", f"{name}.csv",
                                                    "CSV files (*.csv)")
            if not chosen:
                return None
            path = chosen
        out = Path(path)
        out.write_text(self.data.tables[name].to_csv(), encoding="utf-8")
        return out

    def export_png(self, path: str | Path | None = None) -> Path | None:
        """Save the dashboard as it looks now (asks for a file when ``path`` is None)."""
        if path is None:
            stamp = time.strftime("%Y%m%d-%H%M")
            chosen, _ = QFileDialog.getSaveFileName(self, "Save PNG", f"dashboard-{stamp}.png",
                                                    "PNG images (*.png)")
            if not chosen:
                return None
            path = chosen
        out = Path(path)
        self.grab().save(str(out))
        return out

    # --- test/screenshot helpers -----------------------------------------------------
    def bar_scene_pos(self, key: str, index: int) -> tuple[Any, QPointF]:
        """(plot widget, point in its viewport) at the middle of bar ``index`` of ``key``."""
        bars = self.bars[key]
        opts = bars.opts
        panel = self.backlog_chart if key == "backlog_status" else self.tags_chart
        if opts.get("y") is not None and opts.get("x0") is not None:
            point = QPointF(float(opts["width"][index]) / 2, float(list(opts["y"])[index]))
        else:
            point = QPointF(float(list(opts["x"])[index]), float(opts["height"][index]) / 2)
        scene = bars.mapToScene(point)
        view_point = panel.plot.mapFromScene(scene)
        return panel.plot, QPointF(view_point)

    def shutdown(self) -> None:
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._own_bridge:
            self.bridge.shutdown()

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)


def build_dashboard(store: Store, data_dir: Path | None,
                    model: AnalyticsModel | None = None, *,
                    bridge: Bridge | None = None) -> Dashboard:
    """The dashboard for the main window to mount; loads itself once shown-ready.

    ``model``: the window's read model (else one of its own, opened on the worker).
    ``bridge``: the window's; without one (the main window does not pass it yet) the
    dashboard makes a bridge of its own and shuts it down with itself."""
    own = Bridge(store) if bridge is None else None
    dash = Dashboard(bridge or own, model or (lambda: own_model(store, data_dir)))  # type: ignore[arg-type]
    if own is not None:
        # Owned by the widget on the C++ side: deleted with it on the GUI thread, never by
        # Python's garbage collector on whichever worker thread drops the last reference.
        own.setParent(dash)
        dash._own_bridge = True
    dash.reload()
    return dash

