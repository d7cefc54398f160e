"""The attachments of a case as a row of chips: name, size and type. Files dropped on the
bar, chosen with "Add file…" or pasted (a screenshot, copied files, log text) are attached
through the bridge; a click opens one in the system viewer.

A file is read (copied, hashed, parsed) on its own thread, with a progress row and
Cancel, and only then recorded on the database writer: other edits never wait behind a
PDF being read."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QCoreApplication,
    QIODevice,
    QMimeData,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
    QMouseEvent,
    QShortcut,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.operations import attachments as att_ops
from app.operations import intake as intake_ops
from app.ui import theme
from app.ui.bridge import Bridge, describe
from app.ui.widgets import ElidedLabel, plain_label, plain_tip

READERS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="attach-read")
"""Files being attached are read here, one at a time (2 cores; the writer stays free)."""
Prepare = Callable[[Callable[[int], None], Callable[[], bool]], Any]
"""Reads one file: ``prepare(on_progress, should_cancel) -> Prepared``."""

# (label, light bg, light fg, dark bg, dark fg) per kind of file
_BADGES: dict[str, tuple[str, str, str, str, str]] = {
    "pdf": ("PDF", "#fde2e1", "#b42318", "#4a1f22", "#ffb4b4"),
    "image": ("IMG", "#dcf5e6", "#18794e", "#173f2c", "#8fe0b5"),
    "log": ("LOG", "#e0ecff", "#1c4fd6", "#1f3366", "#a9c4ff"),
    "email": ("MAIL", "#ece4ff", "#6336c9", "#3a2a66", "#cbb8ff"),
    "har": ("HAR", "#ffe8d6", "#b4480a", "#5a2e12", "#ffc49a"),
    "other": ("FILE", "#eceef1", "#4b5563", "#2a2d35", "#c3c8d2"),
}


def clipboard_text_size(mime: QMimeData) -> int:
    """The bytes of text a drop or the clipboard offers, without copying it into Python
    (Qt holds it already; ``mime.text()`` would copy and decode it)."""
    formats = [f for f in mime.formats() if f.startswith("text/plain")] or ["text/plain"]
    return max(mime.data(f).size() for f in formats)


def human_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1024
    return f"{n} B"


def badge_kind(row: dict[str, Any]) -> str:
    mime = str(row.get("mime") or "")
    kind = str(row.get("kind") or "")
    if mime.startswith("image/"):
        return "image"
    if kind in ("pdf", "log", "email", "har"):
        return kind
    if mime == "application/pdf":
        return "pdf"
    if mime.startswith("text/"):
        return "log"
    return "other"


def type_label(row: dict[str, Any]) -> str:
    """A readable type: the MIME type, or what intake read the file as."""
    mime = str(row.get("mime") or "")
    if mime and mime != "application/octet-stream":
        return mime
    return {"log": "text log", "har": "HAR archive", "email": "e-mail", "pdf": "PDF"}.get(
        str(row.get("kind") or ""), mime or "file")


class AttachmentChip(QFrame):
    """One attachment: type badge, name, size and a remove button."""

    sig_open = Signal(dict)
    """dict: the attachment row; the agent clicked the chip."""

    sig_remove = Signal(dict)
    """dict: the attachment row; the agent clicked its × button."""

    def __init__(self, row: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row = row
        self.setObjectName("AttachmentChip")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        t = theme.current()
        kind = badge_kind(row)
        label, lbg, lfg, dbg, dfg = _BADGES[kind]
        bg, fg = (dbg, dfg) if t.dark else (lbg, lfg)
        self.setStyleSheet(
            f"#AttachmentChip {{ background: {t.surface}; border: 1px solid {t.border}; "
            f"border-radius: 8px; }} #AttachmentChip:hover {{ border: 1px solid {t.accent}; "
            f"background: {t.hover}; }} #ChipBadge {{ background: {bg}; color: {fg}; "
            "border-radius: 4px; padding: 1px 5px; font-size: 7pt; font-weight: 700; } "
            f"#ChipName {{ color: {t.text}; font-weight: 600; }} "
            f"#ChipMeta {{ color: {t.muted}; font-size: 8pt; }} "
            f"#ChipError {{ color: {t.danger_text}; font-size: 8pt; }}")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 5, 4, 5)
        lay.setSpacing(8)
        badge = QLabel(label)
        badge.setObjectName("ChipBadge")
        badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(badge)
        text = QVBoxLayout()
        text.setSpacing(0)
        name = plain_label()  # a file name comes from the sender
        name.setObjectName("ChipName")
        metrics = name.fontMetrics()
        name.setText(metrics.elidedText(str(row["name"]), Qt.TextElideMode.ElideMiddle, 190))
        text.addWidget(name)
        meta_text = f"{human_size(int(row['size']))} · {type_label(row)}"
        meta = plain_label(metrics.elidedText(meta_text, Qt.TextElideMode.ElideRight, 190))
        meta.setObjectName("ChipMeta")
        text.addWidget(meta)
        lay.addLayout(text)
        tip = [str(row["name"]), meta_text]
        if row.get("error"):
            tip.append(f"Not read: {row['error']}")
            meta.setObjectName("ChipError")
        self.setToolTip(plain_tip("\n".join(tip) + "\nClick to open"))
        close = QToolButton()
        close.setObjectName("Flat")
        close.setIcon(theme.icon("close", size=14))
        close.setToolTip(plain_tip(f"Remove {row['name']} from the case"))
        close.setCursor(Qt.CursorShape.ArrowCursor)
        close.clicked.connect(lambda: self.sig_remove.emit(self.row))
        self.close_button = close
        lay.addWidget(close)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
                event.position().toPoint()):
            self.sig_open.emit(self.row)
        super().mouseReleaseEvent(event)


class Ticket:
    """What the reading thread shares with its row: a cancel flag and the percent read.
    No widget: the job and its arguments are released on the reading thread."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.percent = 0

    def report(self, percent: int) -> None:
        self.percent = percent  # one int store: read by the row's timer on the GUI thread


class AttachJob(QFrame):
    """One file being attached: its name, how far it has been read, and Cancel."""

    def __init__(self, name: str, case_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.case_id = case_id
        self.ticket = Ticket()
        self.stop = self.ticket.stop
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        self.label = ElidedLabel(f"Reading {name}…", mode=Qt.TextElideMode.ElideMiddle)
        self.label.setObjectName("Meta")
        lay.addWidget(self.label, 1)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setFixedWidth(140)
        self.bar.setTextVisible(False)
        lay.addWidget(self.bar)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.setStyleSheet("padding: 2px 8px;")
        self.cancel_button.setToolTip(plain_tip(f"Stop attaching {name}; nothing is kept"))
        self.cancel_button.clicked.connect(self.cancel)
        lay.addWidget(self.cancel_button)
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(lambda: self.bar.setValue(self.ticket.percent))
        self.timer.start()

    def cancel(self) -> None:
        self.stop.set()
        self.cancel_button.setEnabled(False)
        self.label.set_full_text(f"Cancelling {self.name}…")

    def recording(self) -> None:
        """Read: the short write has started and can no longer be cancelled."""
        self.timer.stop()
        self.cancel_button.setEnabled(False)
        self.bar.setValue(100)
        self.label.set_full_text(f"Saving {self.name}…")


def image_png(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]
    buffer.close()
    return bytes(data.data())


class AttachmentsBar(QFrame):
    """Chips for the attachments of one case; a drop and paste target."""

    sig_attached = Signal(str)
    """str: the id of an attachment just added (or found already on the case)."""

    sig_error = Signal(str)
    """str: an attach, open or remove failed; the message is shown on the bar too."""

    sig_loaded = Signal(int)
    """int: the chips were (re)built for this many attachments."""

    sig_cancelled = Signal(str)
    """str: the name of a file whose attaching was cancelled (nothing was kept)."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None, *,
                 open_url: Callable[[QUrl], Any] | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.case_id: str | None = None
        self.rows: list[dict[str, Any]] = []
        self.chips: list[AttachmentChip] = []
        self.jobs: list[AttachJob] = []
        self.open_url = open_url or QDesktopServices.openUrl
        self.setObjectName("AttachmentsBar")
        self.setAcceptDrops(True)
        self._style(False)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 6, 10, 6)
        outer.setSpacing(4)
        outer.addLayout(self._head())
        outer.addWidget(self._chip_area())
        self.job_rows = QVBoxLayout()
        self.job_rows.setSpacing(2)
        outer.addLayout(self.job_rows)

        self.error = plain_label()  # errors quote file names
        self.error.setObjectName("ErrorLabel")
        self.error.setWordWrap(True)
        self.error.hide()
        outer.addWidget(self.error)

        shortcut = QShortcut(QKeySequence.StandardKey.Paste, self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self.paste)
        bridge.sig_changes_applied.connect(self._on_changes)
        self.set_case(None)

    def _head(self) -> QHBoxLayout:
        """Title, count or "No attachments yet", the drop hint, Add file… and Paste."""
        head = QHBoxLayout()
        self.title = QLabel("ATTACHMENTS")
        self.title.setObjectName("FieldLabel")
        head.addWidget(self.title)
        # Its natural width first (the hint gives way before it), "None yet" when squeezed.
        self.empty = ElidedLabel("No attachments yet", mode=Qt.TextElideMode.ElideRight,
                                 shorter=("None yet",))
        self.empty.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.empty.setMinimumWidth(self.empty.fontMetrics().horizontalAdvance("None yet") + 2)
        self.empty.setObjectName("Meta")
        head.addSpacing(6)
        head.addWidget(self.empty)
        # Whole words or nothing: "…nshot (Ctrl+V)" said less than no hint at all.
        self.hint = ElidedLabel("Drop files here or paste a screenshot (Ctrl+V)",
                                shorter=("Drop or paste files here",))
        self.hint.setObjectName("ComposerHint")
        self.hint.setMinimumWidth(0)
        head.addWidget(self.hint, 1)
        self.add_button = QPushButton("Add file…")
        self.add_button.setIcon(theme.icon("plus", size=14))
        self.add_button.setToolTip("Attach files to the case (or drop them here)")
        self.add_button.clicked.connect(self.choose_files)
        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip("Attach the screenshot, files or log text on the clipboard")
        self.paste_button.clicked.connect(self.paste)
        for button in (self.add_button, self.paste_button):
            button.setAutoDefault(False)
            button.setStyleSheet("padding: 3px 9px;")
            head.addWidget(button)
        return head

    def _chip_area(self) -> QScrollArea:
        """The row of chips, scrolling sideways."""
        self.chip_scroll = QScrollArea()
        self.chip_scroll.setWidgetResizable(True)
        self.chip_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.chip_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.chip_scroll.setStyleSheet("QScrollArea { background: transparent; }")
        holder = QWidget()
        holder.setStyleSheet("background: transparent;")
        self.chip_row = QHBoxLayout(holder)
        self.chip_row.setContentsMargins(0, 0, 0, 0)
        self.chip_row.setSpacing(6)
        self.chip_row.addStretch(1)
        self.chip_scroll.setWidget(holder)
        self.chip_scroll.setFixedHeight(50)
        return self.chip_scroll

    # --- looks --------------------------------------------------------------------------
    def _style(self, dragging: bool) -> None:
        t = theme.current()
        border = f"2px dashed {t.accent}" if dragging else f"1px solid {t.border}"
        bg = t.selection if dragging else t.window
        self.setStyleSheet(f"#AttachmentsBar {{ background: {bg}; border: {border}; "
                           "border-radius: 8px; }")

    # --- data ---------------------------------------------------------------------------
    def set_case(self, case_id: str | None) -> None:
        self.case_id = case_id
        for w in (self.add_button, self.paste_button):
            w.setEnabled(case_id is not None)
        self.setAcceptDrops(case_id is not None)
        self.error.hide()
        for job in self.jobs:  # a file being attached shows on its own case only
            job.setVisible(job.case_id == case_id)
        if case_id is None:
            self._show([])
            return
        self.refresh()

    def refresh(self) -> None:
        case_id = self.case_id
        if case_id is None:
            return
        self.bridge.query(att_ops.case_attachments, case_id,
                          on_done=lambda rows: self._show(rows) if case_id == self.case_id
                          else None,
                          on_error=self._fail)

    def _on_changes(self, changes: Any) -> None:
        if changes.made_by(self):
            return  # our own attach or remove: its callback refreshes
        if self.case_id and (self.case_id in changes.case_ids or changes.rebuilt):
            self.refresh()

    def _show(self, rows: list[dict[str, Any]]) -> None:
        if not isValid(self):  # deleted (its case view closed) while the query ran
            return
        self.rows = rows
        for chip in self.chips:
            self.chip_row.removeWidget(chip)
            chip.deleteLater()
        self.chips = []
        for i, row in enumerate(rows):
            chip = AttachmentChip(row)
            chip.sig_open.connect(self.open)
            chip.sig_remove.connect(self.remove)
            self.chip_row.insertWidget(i, chip)
            self.chips.append(chip)
        self.empty.setVisible(not rows)
        self.chip_scroll.setVisible(bool(rows))  # no empty row of chips: a slim bar
        self.title.setText(f"ATTACHMENTS · {len(rows)}" if rows else "ATTACHMENTS")
        self.sig_loaded.emit(len(rows))

    # --- actions ------------------------------------------------------------------------
    def _fail(self, exc: Exception | str) -> None:
        if not isValid(self):
            return
        message = exc if isinstance(exc, str) else describe(exc)
        self.error.setText(message)
        self.error.show()
        self.sig_error.emit(message)

    def _done(self, result: Any) -> None:
        if not isValid(self):
            return
        self.error.hide()
        attachment_id, _changes = result
        self.sig_attached.emit(str(attachment_id))
        self.refresh()

    def attach_files(self, paths: list[Path]) -> None:
        case = self.case_id
        if case is None:
            return
        store = self.bridge.store

        def reader(path: Path) -> Prepare:
            return lambda progress, cancel: att_ops.prepare(
                store, case=case, path=path, on_progress=progress, should_cancel=cancel)

        for path in paths:
            self._start(Path(path).name, reader(Path(path)))

    def attach_image(self, image: QImage, name: str | None = None) -> None:
        case = self.case_id
        if case is None or image.isNull():
            return
        name = name or time.strftime("screenshot-%Y%m%d-%H%M%S.png")
        data, store = image_png(image), self.bridge.store
        self._start(name, lambda _progress, _cancel: att_ops.prepare_bytes(
            store, case=case, data=data, name=name))

    def _start(self, name: str, prepare: Prepare) -> None:
        """Read the file on ``READERS`` with a progress row; then record it on the writer.
        The attach goes on if the bar closes meanwhile (as any operation does)."""
        assert self.case_id is not None
        job = AttachJob(name, self.case_id)
        self.jobs.append(job)
        self.job_rows.addWidget(job)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(job.cancel)  # do not hold the exit for a PDF
        bridge = self.bridge
        ticket = job.ticket

        def read() -> Any:  # holds no widget: it is released on the reading thread
            return prepare(ticket.report, ticket.stop.is_set)

        def prepared(result: Any) -> None:
            alive = isValid(self) and isValid(job)
            if ticket.stop.is_set():  # cancelled after the last check: keep nothing
                bridge.background(READERS, att_ops.discard, result)
                if alive:
                    self._cancelled(job)
                return
            if alive:
                job.recording()
            bridge.run(att_ops.record, prepared=result, initiator=self if alive else None,
                       on_done=lambda r: self._recorded(job, r),
                       on_error=lambda exc: self._job_failed(job, exc))

        bridge.background(READERS, read, on_done=prepared,
                          on_error=lambda exc: self._job_failed(job, exc))

    def _end(self, job: AttachJob) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        if isValid(job):
            self.job_rows.removeWidget(job)
            job.deleteLater()

    def _recorded(self, job: AttachJob, result: Any) -> None:
        if isValid(self):
            self._end(job)
            self._done(result)

    def _cancelled(self, job: AttachJob) -> None:
        self._end(job)
        self.error.setText(f"Attaching {job.name} was cancelled; nothing was attached.")
        self.error.show()
        self.sig_cancelled.emit(job.name)

    def _job_failed(self, job: AttachJob, exc: Exception) -> None:
        if not isValid(self):
            return
        if isinstance(exc, att_ops.Cancelled):
            self._cancelled(job)
            return
        self._end(job)
        self._fail(exc)

    def attach_text(self, text: str, name: str = "pasted.txt") -> None:
        case = self.case_id
        if case is None:
            return
        store = self.bridge.store
        self._start(name, lambda _progress, _cancel: intake_ops.prepare_text(
            store, case=case, text=text, name=name))

    def attach_mime(self, mime: QMimeData) -> bool:
        """Attach what a drop or the clipboard holds: files, an image, or text."""
        files = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if files:
            self.attach_files(files)
            return True
        if mime.hasImage():
            image = QImage(mime.imageData())
            if not image.isNull():
                self.attach_image(image)
                return True
        if mime.hasText():
            size, limit = clipboard_text_size(mime), intake_ops.paste_limit()
            if size > limit:  # refused before the text is copied out of Qt or encoded
                self._fail(intake_ops.paste_too_large(size, limit).capitalize())
                return True
            text = mime.text()
            if text.strip():
                self.attach_text(text)
                return True
        return False

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not self.attach_mime(mime):
            self._fail("The clipboard holds no file, image or text to attach.")

    def choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Attach files to the case")
        self.attach_files([Path(n) for n in names])

    def open(self, row: dict[str, Any]) -> None:
        store = self.bridge.store
        self.bridge.read(att_ops.open_path, store, row["sha256"], row["name"],
                         on_done=self._open_path, on_error=self._fail)

    def _open_path(self, path: Path) -> None:
        self.open_url(QUrl.fromLocalFile(str(path)))

    def remove(self, row: dict[str, Any]) -> None:
        if self.case_id is None:
            return
        self.bridge.run(att_ops.remove, case=self.case_id, attachment_id=row["id"],
                        on_done=lambda _c: self.refresh(), on_error=self._fail)

    # --- drag and drop ------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if self.case_id and (mime.hasUrls() or mime.hasImage()):
            event.acceptProposedAction()
            self._style(True)
        else:
            event.ignore()

    def dragLeaveEvent(self, event: Any) -> None:
        self._style(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self._style(False)
        if self.attach_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()
