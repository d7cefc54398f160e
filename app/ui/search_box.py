"""The search box above the list and the results view it fills: typing runs an offline
search (instant), Esc clears it, Down moves into the results. Which view the window shows
around it (the list, a saved search's sidebar entry) stays with the window."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QLineEdit, QToolButton, QWidget

from app.ui import theme
from app.ui.search_ui import SearchHelp, SearchResultsView


class SearchBox(QObject):
    """Owns the search field, its syntax button and the results view; runs ``search``
    (a :class:`app.ui.search_ui.SearchController`) for what is typed."""

    sig_text = Signal(str)
    """str: the query as typed changed (stripped; "" when cleared)."""

    sig_result = Signal(object)
    """SearchResult: the newest results are on screen (while a search is showing)."""

    def __init__(self, search: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = search
        self.query = ""  # the query on screen ("" when the list shows a view)
        self._host = parent
        self.edit = QLineEdit()
        self.edit.setObjectName("SearchEdit")
        self.edit.setAccessibleName("Search all cases")
        self.edit.setPlaceholderText("Search all cases…  (Ctrl+F)")
        self.edit.addAction(theme.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.edit.setClearButtonEnabled(True)
        self.edit.setMinimumWidth(180)
        self.edit.setToolTip("Instant offline search: words, \"phrases\", status:open "
                             "tag:vip assignee:me updated:<7d … (? for the syntax)")
        self.edit.textChanged.connect(lambda text: self.sig_text.emit(text.strip()))
        self.edit.returnPressed.connect(self._return)
        self.edit.installEventFilter(self)
        self.help_button = QToolButton()
        self.help_button.setObjectName("Flat")
        self.help_button.setText("?")
        self.help_button.setToolTip("Search syntax")
        self.help_button.setAccessibleName("Search syntax")
        self.help_button.clicked.connect(self.show_help)
        self.results = SearchResultsView()
        self.results.sig_apply_query.connect(self.edit.setText)
        self.help: SearchHelp | None = None
        search.sig_results.connect(self._results)
        search.sig_updated.connect(self._index_updated)

    def set_text(self, query: str) -> None:
        """Put ``query`` in the field; run it even when it is there already."""
        if self.edit.text() == query:
            self.sig_text.emit(query.strip())
        else:
            self.edit.setText(query)

    def run(self, query: str) -> None:
        """Search ``query`` now (the index opens first when it is not ready)."""
        self.query = query
        self.search.search(query)
        if not self.search.ready:
            self.results.show_waiting("Preparing the search index… results appear as soon "
                                      "as it is ready")
            self.search.start()

    def leave(self) -> None:
        """Back to no search: drop any answer on its way, empty the field quietly."""
        self.query = ""
        self.search.generation += 1
        if self.edit.text():
            self.edit.blockSignals(True)
            self.edit.clear()
            self.edit.blockSignals(False)

    def index_failed(self, message: str) -> None:
        if self.query:
            self.results.show_waiting(message)

    def idle(self) -> bool:
        """The index is ready and the newest query's results are on screen."""
        return self.search.ready and not self.search.busy and \
            self.search.shown_generation == self.search.generation

    def _results(self, result: Any) -> None:
        if not self.query:
            return
        self.results.show_result(result)
        self.sig_result.emit(result)

    def _index_updated(self, _count: int) -> None:
        if self.query:  # an edit or a synced case may change the results
            self.search.search(self.query)

    def _return(self) -> None:
        if self.query and self.results.model.rowCount():
            self.results.table.setFocus()

    def show_help(self) -> None:
        popup = SearchHelp(self._host)
        self.help = popup
        popup.adjustSize()
        corner = self.help_button.mapToGlobal(self.help_button.rect().bottomRight())
        popup.move(corner.x() - popup.width(), corner.y() + 4)
        popup.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.edit and event.type() == QEvent.Type.KeyPress:
            key = event.key()  # type: ignore[attr-defined]
            if key == Qt.Key.Key_Escape and self.edit.text():
                self.edit.clear()
                return True
            if key == Qt.Key.Key_Down and self.query:
                self.results.table.setFocus()
                return True
        return super().eventFilter(watched, event)
