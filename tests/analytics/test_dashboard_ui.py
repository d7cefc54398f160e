"""pytest-qt: the dashboard renders off-thread data, a bar click opens its cases; the
notification centre lists, marks read and opens the case."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.analytics.model import AnalyticsModel
from app.operations.notifications import Me, Notification, NotificationCenter


@pytest.fixture
def bridge(qapp, demo_store):
    from app.ui.bridge import Bridge

    b = Bridge(demo_store)
    yield b
    b.shutdown()


@pytest.fixture
def dashboard(qtbot, demo_store, data_dir):
    from app.ui.dashboard import build_dashboard

    dash = build_dashboard(demo_store, data_dir)
    qtbot.addWidget(dash)
    dash.resize(1300, 820)
    dash.show()
    with qtbot.waitSignal(dash.sig_loaded, timeout=20_000) as blocker:
        pass
    yield dash, blocker.args[0]
    dash.shutdown()
    dash.model.close()


def test_dashboard_renders_and_bar_click_opens_cases(qtbot, dashboard, tmp_path) -> None:
    dash, data = dashboard
    assert (tmp_path / "x").parent.exists()
    status_rows = [r for r in data.tables["backlog"].rows if r[0] == "status"]
    assert status_rows and dash.cards["backlog"].value.text() == \
        f"{sum(r[2] for r in status_rows):,}"
    assert dash.team_combo.count() == 4 and dash.agent_combo.count() == 11
    plot, point = dash.bar_scene_pos("backlog_status", 1)
    with qtbot.waitSignal(dash.sig_open_cases, timeout=3000) as blocker:
        QTest.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, point.toPoint())
    assert blocker.args == [f"status:{status_rows[1][1]}"]
    plot, point = dash.bar_scene_pos("top_tags", 0)
    with qtbot.waitSignal(dash.sig_open_cases, timeout=3000) as blocker:
        QTest.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, point.toPoint())
    assert blocker.args == [f"tag:{data.tables['top-tags'].rows[0][0]}"]
    png = dash.export_png(tmp_path / "dash.png")
    assert png.stat().st_size > 10_000
    csv = dash.export_csv("sla", tmp_path / "sla.csv")
    assert csv.read_text().startswith("target,cases,met,breached")
    # Filtering by team reloads off the UI thread and the bar drill-down keeps the team.
    with qtbot.waitSignal(dash.sig_loaded, timeout=20_000):
        dash.team_combo.setCurrentIndex(dash.team_combo.findData("billing"))
    plot, point = dash.bar_scene_pos("backlog_status", 0)
    with qtbot.waitSignal(dash.sig_open_cases, timeout=3000) as blocker:
        QTest.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, point.toPoint())
    assert blocker.args[0].endswith("team:billing")


def test_every_tag_bar_is_named_and_the_period_shows(qtbot, dashboard) -> None:
    # A long tag used to lose its label (pyqtgraph drops ticks wider than the axis).
    from PySide6.QtGui import QFontMetrics

    from app.analytics.reports import Table
    from app.ui.dashboard import TAG_AXIS_MAX

    dash, data = dashboard
    long_name = "customer-escalation-needs-engineering-review"
    dash._draw_tags(Table("top-tags", ["tag", "cases"],
                          [["vip", 9], ["feature-request", 7], [long_name, 5]],
                          drill=["tag:vip", "tag:feature-request", f"tag:{long_name}"]))
    axis = dash.tags_chart.plot.getAxis("left")
    labels = [text for _pos, text in axis._tickLevels[0]]
    metrics = QFontMetrics(axis.style["tickFont"])
    assert labels[:2] == ["vip", "feature-request"] and labels[2].endswith("…")
    width = axis.maximumWidth()  # fixed by setWidth
    assert all(metrics.horizontalAdvance(t) <= width - 16 for t in labels)
    assert width <= TAG_AXIS_MAX + 16
    first, last = data.tables["created-vs-solved"].rows[0][0], \
        data.tables["created-vs-solved"].rows[-1][0]
    assert dash.status.text() == f"{first} → {last}"
    qtbot.wait(50)  # the bar lays out again after the text changed
    assert dash.status.width() >= dash.status.sizeHint().width()  # not cut off
    assert "loaded in" in dash.status.toolTip()


def test_sla_legend_shows_coloured_squares_not_markup(dashboard) -> None:
    # The plain-text sweep made every chart subtitle plain: the SLA legend showed its HTML.
    from PySide6.QtGui import QTextDocument

    dash, _data = dashboard
    legend = dash.sla_chart.subtitle
    assert legend.textFormat() == Qt.TextFormat.RichText
    doc = QTextDocument()
    doc.setHtml(legend.text())
    assert doc.toPlainText().replace("\xa0", " ") == "■ met  ■ breached  ■ at risk"
    # the subtitles that may name tags or teams stay plain
    assert dash.tags_chart.subtitle.textFormat() == Qt.TextFormat.PlainText


def test_notification_centre(qtbot, demo_store, bridge) -> None:
    from app.ui.notification_center import NotificationPanel, TrayNotifier

    center = NotificationCenter(demo_store, None, me=Me("me@x"))
    case_id = demo_store.read(lambda c: c.exec_driver_sql("select id from cases limit 1")
                              .scalar())
    center._store([Notification("mention", "Sam mentioned you", "look", 2, "d1", case_id),
                   Notification("sla", "SLA about to breach", "10m left", 1, "d2", None)])
    panel = NotificationPanel(center, bridge)
    qtbot.addWidget(panel)
    panel.resize(420, 500)
    panel.show()
    qtbot.waitExposed(panel)
    with qtbot.waitSignal(panel.sig_loaded, timeout=5000) as blocker:
        panel.refresh()
    assert blocker.args == [2] and "2 unread" in panel.title.text()
    with qtbot.waitSignal(panel.sig_open_case, timeout=3000) as opened:
        item = panel.list.item(0)
        rect = panel.list.visualItemRect(item)
        QTest.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, rect.center())
    assert opened.args == [case_id]
    qtbot.waitUntil(lambda: center.unread_count() == 1, timeout=3000)
    # The click's own refresh is shown before "mark all" (else its count could win the race).
    qtbot.waitUntil(lambda: "1 unread" in panel.title.text(), timeout=3000)
    with qtbot.waitSignal(panel.sig_unread_changed, timeout=3000) as unread:
        panel.mark_all_read()
    assert unread.args == [0]
    # Offscreen there is no system tray: notifications fall back to the in-app centre.
    tray = TrayNotifier()
    fallbacks = []
    tray.sig_fallback.connect(fallbacks.append)
    assert tray.notify(center.list()) == 0 and len(fallbacks) == 2
    assert tray.notify(center.list(), dnd=True) == 0 and len(fallbacks) == 2
    panel.shutdown()


def test_macro_dialog_previews_then_applies(qtbot, demo_store, bridge) -> None:
    from app.operations import macros as mops
    from app.ui.macro_dialog import MacroDialog

    model = AnalyticsModel(demo_store, None)
    mops.save_macro(demo_store, name="Hold", actions={"status": "on-hold",
                                                      "add_tags": ["waiting"]})
    dialog = MacroDialog(demo_store, model, ["SUP-1"], bridge=bridge)
    qtbot.addWidget(dialog)
    announced = []
    bridge.sig_changes_applied.connect(announced.append)
    with qtbot.waitSignal(dialog.sig_previewed, timeout=5000) as prev:
        pass
    assert prev.args[0].ok and dialog.apply_button.isEnabled()
    assert "tag +waiting" in dialog.text.toPlainText()
    with qtbot.waitSignal(dialog.sig_applied, timeout=5000) as applied:
        dialog.apply_button.click()
    assert applied.args[0].case_ids
    # One operation on the writer, announced to every view with the dialog as initiator.
    assert len(announced) == 1 and announced[0].made_by(dialog)
    model.close()
