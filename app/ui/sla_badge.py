"""The case's SLA badge: a coloured pill naming the next deadline (at risk, breached, met,
paused); its tooltip is the audit trail of every target and pause."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QWidget

from app.core.sla import SlaStatus, TargetStatus, format_duration
from app.ui import theme
from app.ui.widgets import plain_label, plain_tip

__all__ = ["SLA_COLORS", "SLA_ICONS", "SlaBadge", "sla_badge"]

# (light bg, light fg, dark bg, dark fg) per badge state
SLA_COLORS: dict[str, tuple[str, str, str, str]] = {
    "ok": ("#e0ecff", "#1c4fd6", "#1f3366", "#a9c4ff"),
    "at_risk": ("#fff0d4", "#a35200", "#4a3412", "#ffc978"),
    "breached": ("#fde2e1", "#b42318", "#4a1f22", "#ffb4b4"),
    "met": ("#dcf5e6", "#18794e", "#173f2c", "#8fe0b5"),
    "paused": ("#eceef1", "#4b5563", "#2a2d35", "#c3c8d2"),
    "error": ("#eceef1", "#4b5563", "#2a2d35", "#c3c8d2"),
}
SLA_ICONS = {"ok": "clock", "at_risk": "alert", "breached": "alert", "met": "check",
             "paused": "pause", "error": "alert"}


def _when(ms: int | None) -> str:
    if not ms:
        return "—"
    return datetime.fromtimestamp(ms / 1000).strftime("%a %d %b %H:%M")


def _target_line(t: TargetStatus) -> str:
    target = format_duration(t.target_ms)
    if t.stopped_ms is not None:
        verdict = "met" if t.state == "met" else "breached"
        return f"{t.label}: {verdict} ({_when(t.stopped_ms)}) · target {target}"
    if t.is_paused:
        left = f"{format_duration(max(t.left_ms, 0))} left" if t.left_ms >= 0 else \
            f"{format_duration(-t.left_ms)} over"
        return f"{t.label}: paused · {left} of {target}"
    if t.state == "breached":
        return (f"{t.label}: breached · {format_duration(-t.left_ms)} over {target} "
                f"(deadline {_when(t.deadline_ms)})")
    state = "at risk" if t.state == "at_risk" else "on track"
    return (f"{t.label}: {state} · {format_duration(t.left_ms)} left of {target} "
            f"(deadline {_when(t.deadline_ms)})")


def sla_badge(status: SlaStatus | None) -> tuple[str, str, str] | None:
    """``(state, text, tooltip)`` for the SLA badge of a case (None: no SLA policy).

    The badge names the next deadline of a target still running (breached first, then
    the earliest deadline); a paused clock shows the time left; when every target has
    stopped it says whether the SLA was met. The tooltip is the audit trail: each target
    with its deadline and every pause ("paused 2h10m while pending")."""
    if status is None or not status.targets:
        return None
    running = [t for t in status.targets if t.stopped_ms is None and not t.is_paused]
    paused = [t for t in status.targets if t.stopped_ms is None and t.is_paused]
    breached = [t for t in running if t.state == "breached"]
    if breached:
        t = min(breached, key=lambda x: x.left_ms)
        state, text = "breached", f"Breached · {t.label.lower()} {format_duration(-t.left_ms)} over"
    elif running:
        t = min(running, key=lambda x: x.deadline_ms or 0)
        left = format_duration(max(t.left_ms, 0))
        if t.state == "at_risk":
            state, text = "at_risk", f"At risk · {t.label.lower()} in {left}"
        else:
            state, text = "ok", f"{t.label} in {left}"
    elif paused:
        t = min(paused, key=lambda x: x.left_ms)
        state = "paused"
        text = (f"Paused · {t.label.lower()} {format_duration(t.left_ms)} left" if t.left_ms >= 0
                else f"Paused · {t.label.lower()} {format_duration(-t.left_ms)} over")
    elif any(t.state == "breached" for t in status.targets):
        state, text = "breached", "SLA missed"
    else:
        state, text = "met", "SLA met"
    lines = [f"SLA policy {status.policy} · {status.calendar} hours"]
    for t in status.targets:
        lines.append(_target_line(t))
        lines += [f"    {p}" for p in t.paused]
    return state, text, "\n".join(lines)


class SlaBadge(QFrame):
    """The case's SLA as a coloured pill: next deadline, at risk, breached, met, paused;
    the tooltip is the audit trail."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SlaBadge")
        self.setAccessibleName("SLA")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.state: str | None = None
        lay = QHBoxLayout(self)
        lay.setContentsMargins(7, 2, 9, 2)
        lay.setSpacing(4)
        self.icon = QLabel()
        self.label = plain_label()
        self.label.setObjectName("SlaText")
        lay.addWidget(self.icon)
        lay.addWidget(self.label)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def show_status(self, status: SlaStatus | None, error: str | None = None) -> None:
        badge = ("error", "SLA ?", f"The SLA cannot be computed: {error}") if error \
            else sla_badge(status)
        if badge is None:
            self.state = None
            self.label.setText("")
            self.setToolTip("")
            self.hide()
            return
        state, text, tip = badge
        self.state = state
        t = theme.current()
        lbg, lfg, dbg, dfg = SLA_COLORS[state]
        bg, fg = (dbg, dfg) if t.dark else (lbg, lfg)
        self.setStyleSheet(f"#SlaBadge {{ background: {bg}; border: 1px solid {bg}; "
                           "border-radius: 9px; } "
                           f"#SlaText {{ color: {fg}; font-size: 9pt; font-weight: 600; }}")
        self.icon.setPixmap(theme.icon(SLA_ICONS[state], fg, 12).pixmap(12, 12))
        self.label.setText(text)
        self.setToolTip(plain_tip(tip))  # may carry an error's words
        self.show()
