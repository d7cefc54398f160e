"""A date field that takes a typed date: ISO (2026-12-24), the locale's short form
(12/24/26 in en_US) or the shown form (Thu 24 Dec 2026). What cannot be read is refused
with a message (``sig_refused``) and the field shows its last value again: never dropped
silently. Its calendar opens on today's month when no date is set."""

from __future__ import annotations

from PySide6.QtCore import QDate, QEvent, QLocale, QObject, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QValidator
from PySide6.QtWidgets import QDateEdit, QToolTip, QWidget

__all__ = ["DateField", "parse_typed_date"]


def parse_typed_date(text: str, *, shown_format: str = "ddd d MMM yyyy",
                     locale: QLocale | None = None) -> QDate | None:
    """The date ``text`` names (None when it names none)."""
    text = " ".join(text.split())
    if not text:
        return None
    loc = locale or QLocale()
    formats = ["yyyy-MM-dd", "yyyy-M-d", shown_format, "d MMM yyyy",
               loc.dateFormat(QLocale.FormatType.ShortFormat),
               loc.dateFormat(QLocale.FormatType.LongFormat)]
    short = loc.dateFormat(QLocale.FormatType.ShortFormat)
    if "yy" in short and "yyyy" not in short:
        formats.append(short.replace("yy", "yyyy"))
    for fmt in formats:
        date = loc.toDate(text, fmt)
        if not date.isValid():
            date = QDate.fromString(text, fmt)
        if date.isValid():
            if "yyyy" not in fmt and date.year() < 2000:  # Qt reads "26" as 1926
                date = date.addYears(100)
            return date
    return None


class DateField(QDateEdit):
    """A QDateEdit that accepts free typing and reads it when the agent finishes."""

    sig_refused = Signal(str)
    """str: the message for a typed text that names no date (the value is unchanged)."""

    def __init__(self, empty: QDate, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty = empty  # the "no date" value: the calendar opens on today instead
        self.error = ""  # the last refusal, shown as a tooltip
        self.setCalendarPopup(True)
        self.calendarWidget().installEventFilter(self)

    # Typing is free (any text is Intermediate); it is read in _read_typed.
    def validate(self, text: str, pos: int) -> object:  # type: ignore[override]
        state = super().validate(text, pos)
        first = state[0] if isinstance(state, tuple) else state
        if first == QValidator.State.Acceptable:
            return state
        return (QValidator.State.Intermediate, text, pos)

    def _read_typed(self) -> None:
        text = self.lineEdit().text()
        if text == self.textFromDateTime(self.dateTime()):
            return  # nothing typed
        date = parse_typed_date(text, shown_format=self.displayFormat())
        if date is not None and date >= self.minimumDate():
            self.error = ""
            self.setToolTip("")
            self.setDate(date)
            return
        sample = QDate.currentDate()
        self.error = (f"“{text.strip()}” is not a date: type it as "
                      f"{sample.toString('yyyy-MM-dd')} or "
                      f"{QLocale().toString(sample, QLocale.FormatType.ShortFormat)}.")
        self.setToolTip(self.error)
        self.setDate(self.date())  # shows the kept value again
        if self.isVisible():
            QToolTip.showText(self.mapToGlobal(self.rect().bottomLeft()), self.error, self)
        self.sig_refused.emit(self.error)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._read_typed()
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        self._read_typed()
        super().focusOutEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.calendarWidget() and event.type() == QEvent.Type.Show \
                and self.date() == self.empty:
            today = QDate.currentDate()
            self.calendarWidget().setCurrentPage(today.year(), today.month())
        return super().eventFilter(watched, event)
