"""Sync in the app: the controller (scheduler + live stream + presence), sign-in, status.

Threads: the scheduler's jobs run on the asyncio loop (qasync, i.e. the GUI thread) and only
enqueue the sync on the network thread through the bridge; the live stream runs on its own
thread and reaches the GUI thread through a queued signal; presence calls run on a reader.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.changes import Changes
from app.operations.sync import (
    health_job,
    load_session,
    make_scheduler,
    outcome_of,
    presence_job,
    sign_in,
    sign_in_message,
    sign_out,
    start_live_stream,
    sync_job,
)
from app.ui import theme
from app.ui.bridge import Bridge, describe
from app.ui.case_list import relative_time
from app.ui.widgets import plain_label, plain_tip

PRESENCE_SECONDS = 20
DEFAULT_SERVER = "https://"


class SyncController(QObject):
    """Owns the session, the scheduler and the live stream; tells the UI the sync state."""

    sig_state = Signal(str)
    """str: online / offline / syncing / error / signed-out."""

    sig_viewers = Signal(str, object)
    """(case id, list of viewer dicts): who else is viewing the case (GET presence)."""

    sig_session = Signal(object)
    """The session after a sign in (or None after a sign out)."""

    _sig_hint = Signal(int)
    _sig_live = Signal(str)

    def __init__(self, bridge: Bridge, loop: asyncio.AbstractEventLoop | None = None,
                 interval: float = 30.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.store = bridge.store
        self.session: Any = None
        self.live: Any = None
        self.viewing: str | None = None
        self.hints = 0
        self.scheduler: Any = None  # a SyncScheduler once start() ran (with a loop)
        self._loop = loop
        self._interval = interval
        self._started = False
        self._jobs: list[tuple[str, float, Any]] = []
        self._sig_hint.connect(self._hint)
        self._sig_live.connect(self._live_state)
        self._presence = QTimer(self)
        self._presence.setInterval(PRESENCE_SECONDS * 1000)
        self._presence.timeout.connect(self._report_presence)
        self.presence_pending = False
        self._presence_again = False
        self.health: Any = None  # a SyncHealth once read: what sync could not do
        bridge.sig_changes_applied.connect(self._changes)

    def start(self) -> None:
        """After the first paint: the scheduler (APScheduler) and the saved session."""
        if self._started:
            return
        self._started = True
        if self._loop is not None:
            self.scheduler = make_scheduler(self._run_sync, self._interval, loop=self._loop,
                                            on_state=self.sig_state.emit)
            self.scheduler.start(signed_in=self.session is not None)
            for job in self._jobs:
                self.scheduler.every(*job)
        self.bridge.read(load_session, self.store, on_done=self._adopt,
                         on_error=lambda _e: None)
        self.refresh_health()

    def refresh_health(self) -> None:
        self.bridge.read(health_job, self.store, on_done=self._set_health,
                         on_error=lambda _e: None, track=False)

    def _set_health(self, health: Any) -> None:
        self.health = health
        self.sig_state.emit(self.state)  # the status button re-reads it

    def every(self, job_id: str, seconds: float, fn: Any) -> None:
        """A periodic scheduler job (only with an event loop); it must only enqueue work."""
        self._jobs.append((job_id, seconds, fn))
        if self.scheduler is not None:
            self.scheduler.every(job_id, seconds, fn)

    # --- state --------------------------------------------------------------------------
    @property
    def state(self) -> str:
        if self.scheduler is not None:
            return str(self.scheduler.state)
        return "offline" if self.session is not None else "signed-out"

    @property
    def last_sync_ms(self) -> int | None:
        return self.scheduler.last_sync_ms if self.scheduler else None

    @property
    def signed_in(self) -> bool:
        return self.session is not None

    def _adopt(self, session: Any) -> None:
        self.session = session
        self.sig_session.emit(session)
        if session is None:
            self._stop_live()
            self._presence.stop()
            if self.scheduler:
                self.scheduler.set_signed_in(False)
            self.sig_state.emit(self.state)
            return
        if self.scheduler:
            self.scheduler.set_signed_in(True)
        self._start_live()
        self.set_viewing(self.viewing)

    # --- sync ---------------------------------------------------------------------------
    def sync_now(self) -> None:
        if self.scheduler is not None:
            self.scheduler.poke(0.0)

    def poke(self) -> None:
        if self.scheduler is not None:
            self.scheduler.poke()

    def _run_sync(self) -> Any:
        session = self.session
        if session is None:
            return "signed-out"
        self.bridge.network(sync_job, session=session, on_done=self._synced,
                            on_error=self._sync_failed)
        return None

    def _synced(self, report: Any) -> None:
        if self.scheduler:
            self.scheduler.finished("ok")
        if report.changes.cases:
            self._report_presence()
        self.refresh_health()

    def _sync_failed(self, exc: Exception) -> None:
        outcome = outcome_of(exc)
        if self.scheduler:
            self.scheduler.finished(outcome, describe(exc),
                                    retry_after=getattr(exc, "retry_after", None))
        if outcome == "signed-out":
            self._adopt(None)

    def _changes(self, changes: Changes) -> None:
        if changes.remote:
            return  # sync's own answer: pushing again would only loop
        if changes.event_ids or changes.sync or changes.cases:
            self.poke()  # a local write: push it soon

    def _hint(self, _seq: int) -> None:
        self.hints += 1
        self.poke()

    def _live_state(self, state: str) -> None:
        if state == "connected":
            self.poke()  # hints may have been missed while disconnected
        elif state == "signed-out" and self.session is not None:
            self._adopt(None)

    def _start_live(self) -> None:
        self._stop_live()
        if self.session is None:
            return
        self.live = start_live_stream(self.session, self._sig_hint.emit,
                                      on_state=self._sig_live.emit)

    def _stop_live(self) -> None:
        if self.live is not None:
            self.live.stop(timeout=2.0)
            self.live = None

    # --- sign in / out ------------------------------------------------------------------
    def sign_in(self, server: str, email: str, password: str, on_done: Any,
                on_error: Any) -> None:
        def done(result: tuple[Any, Changes]) -> None:
            self._adopt(result[0])
            on_done(result[0])

        self.bridge.network(sign_in, server=server, email=email, password=password,
                            on_done=done, on_error=on_error)

    def sign_out(self) -> None:
        session = self.session
        if session is None:
            return
        self._adopt(None)
        self.bridge.network(sign_out, session=session)

    # --- presence -----------------------------------------------------------------------
    def set_viewing(self, case_id: str | None) -> None:
        """The case on screen; reported every 20 s while signed in and online."""
        changed = case_id != self.viewing
        self.viewing = case_id
        if case_id is None or self.session is None:
            self._presence.stop()
            if changed and case_id:
                self.sig_viewers.emit(case_id, [])
            return
        if not self._presence.isActive():
            self._presence.start()
        if changed:
            self.sig_viewers.emit(case_id, [])
            self._report_presence()

    def _report_presence(self) -> None:
        session, case_id = self.session, self.viewing
        if session is None or case_id is None or self.state == "offline":
            return
        if self.presence_pending:
            self._presence_again = True  # ask again once the call in flight is back
            return
        self.presence_pending = True
        self._presence_again = False

        def finish(viewers: list[dict[str, Any]]) -> None:
            self.presence_pending = False
            self.sig_viewers.emit(case_id, viewers)
            if self._presence_again:
                self._report_presence()

        def failed(_exc: Exception) -> None:  # offline or a case not pushed yet: no chips
            finish([])

        done = finish

        self.bridge.read(presence_job, session, case_id, on_done=done, on_error=failed)

    def shutdown(self) -> None:
        self._presence.stop()
        self._stop_live()
        if self.scheduler is not None:
            self.scheduler.shutdown()


class SignInDialog(QDialog):
    """Server URL, email, password; errors inline. The password is never stored."""

    sig_signed_in = Signal(str)
    """str: the email now signed in."""

    def __init__(self, controller: SyncController, server: str = "", email: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("Sign in to sync")
        self.setMinimumWidth(440)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(22, 18, 22, 14)
        lay.setSpacing(10)
        title = QLabel("Sign in to your team's server")
        title.setObjectName("ViewTitle")
        lay.addWidget(title)
        note = QLabel("Your cases sync with your team. Until you sign in everything stays on "
                      "this device.")
        note.setObjectName("Meta")
        note.setWordWrap(True)
        lay.addWidget(note)
        form = QFormLayout()
        form.setVerticalSpacing(8)
        self.server = QLineEdit(server or DEFAULT_SERVER)
        self.server.setAccessibleName("Server address")
        self.server.setPlaceholderText("https://support.example.com")
        self.email = QLineEdit(email)
        self.email.setAccessibleName("Email")
        self.email.setPlaceholderText("you@example.com")
        self.password = QLineEdit()
        self.password.setAccessibleName("Password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("Server", self.server)
        form.addRow("Email", self.email)
        form.addRow("Password", self.password)
        lay.addLayout(form)
        self.error = plain_label()  # the server's words, or the address typed
        self.error.setObjectName("ErrorLabel")
        self.error.setWordWrap(True)
        self.error.hide()
        lay.addWidget(self.error)
        buttons = QDialogButtonBox()
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setObjectName("Primary")
        self.sign_in_button.setDefault(True)
        buttons.addButton(self.sign_in_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        (self.email if server else self.server).setFocus()

    def submit(self) -> None:
        server, email = self.server.text().strip(), self.email.text().strip()
        if not server.startswith(("http://", "https://")) or len(server) < 10:
            self.show_error("Enter the server address, like https://support.example.com")
            return
        if "@" not in email:
            self.show_error("Enter your email address.")
            return
        if not self.password.text():
            self.show_error("Enter your password.")
            return
        self.error.hide()
        self.sign_in_button.setEnabled(False)
        self.sign_in_button.setText("Signing in…")
        password = self.password.text()
        self.password.clear()  # the session keeps a refresh token, never the password
        self.controller.sign_in(server, email, password, on_done=self._done,
                                on_error=lambda e: self.show_error(sign_in_message(e)))

    def _done(self, session: Any) -> None:
        self.sig_signed_in.emit(str(session.email))
        self.accept()

    def show_error(self, message: str) -> None:
        self.sign_in_button.setEnabled(True)
        self.sign_in_button.setText("Sign in")
        self.error.setText(message)
        self.error.show()
        self.password.setFocus()


STATE_TEXT = {"online": "Online", "offline": "Offline — will retry", "syncing": "Syncing…",
              "error": "Sync error", "signed-out": "Offline — local only"}
STATE_ICON = {"online": "cloud", "offline": "cloud-off", "syncing": "refresh",
              "error": "alert", "signed-out": "cloud-off"}


class SyncStatus(QToolButton):
    """The status-bar button: state, last sync; its menu offers Sync now / Sign in / out."""

    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setObjectName("SyncStatus")
        self.setAutoRaise(True)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.menu_ = QMenu(self)
        self.sync_action = self.menu_.addAction(theme.icon("refresh"), "Sync now",
                                                controller.sync_now)
        self.menu_.addSeparator()
        self.sign_in_action = self.menu_.addAction("Sign in…")
        self.sign_out_action = self.menu_.addAction("Sign out", controller.sign_out)
        self.setMenu(self.menu_)
        self.menu_.aboutToShow.connect(self._menu_state)
        controller.sig_state.connect(lambda _s: self.refresh())
        controller.sig_session.connect(lambda _s: self.refresh())
        self._clock = QTimer(self)
        self._clock.setInterval(30_000)
        self._clock.timeout.connect(self.refresh)
        self._clock.start()
        self.refresh()

    def _menu_state(self) -> None:
        signed_in = self.controller.signed_in
        self.sync_action.setEnabled(signed_in)
        self.sign_in_action.setVisible(not signed_in)
        self.sign_out_action.setVisible(signed_in)
        if signed_in:
            self.sign_out_action.setText(f"Sign out {self.controller.session.email}")

    def text_for_state(self) -> str:
        state = self.controller.state
        text = STATE_TEXT.get(state, state)
        last = self.controller.last_sync_ms
        if state == "online" and last:
            text += f" · synced {relative_time(last)}"
        elif state in ("offline", "error") and last:
            text += f" · last sync {relative_time(last)}"
        problems = self.health_messages()
        if problems:
            text += " · " + problems[0] + (f" (+{len(problems) - 1})" if len(problems) > 1
                                           else "")
        return text

    def health_messages(self) -> list[str]:
        """'N events could not be applied', 'N changes were refused by the server', the
        clock warning: what sync could not do (empty when all is well)."""
        health = self.controller.health
        return list(health.messages()) if health is not None else []

    def refresh(self) -> None:
        state = self.controller.state
        t = theme.current()
        color = {"error": t.danger_text, "online": t.accent}.get(state, t.muted)
        self.setIcon(theme.icon(STATE_ICON.get(state, "cloud-off"), color, 14))
        self.setText(self.text_for_state())
        scheduler = self.controller.scheduler
        tips = {"signed-out": "Not signed in: every change is kept on this device. "
                              "Click to sign in.",
                "online": f"Signed in as {getattr(self.controller.session, 'email', '')}",
                "offline": "The server cannot be reached; changes wait on this device.",
                "error": f"Sync failed: {scheduler.last_error if scheduler else ''}",
                "syncing": "Sending and receiving changes…"}
        # the e-mail, the server's error and refusal reasons: shown literally
        self.setToolTip(plain_tip("\n".join([tips.get(state, ""),
                                              *self.health_messages()]).strip()))
        self.setAccessibleName(f"Sync: {self.text()}")


def now_ms() -> int:
    return int(time.time() * 1000)
