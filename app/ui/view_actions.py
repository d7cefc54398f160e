"""Saved views from the window: save the current filter or a search as a view, rename one,
delete one (each asks for a name in a small dialog, then runs one operation)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog, QWidget

from app.operations import cases as ops
from app.operations.views import rename_view
from app.ui.bridge import Bridge

SEARCH_PREFIX = "search:"  # a saved view whose query is a search, not a filter


class ViewActions(QObject):
    def __init__(self, bridge: Bridge, dialogs: QWidget,
                 show_message: Callable[[str], None]) -> None:
        super().__init__(dialogs)
        self.bridge = bridge
        self.dialogs = dialogs  # the parent of the name dialogs
        self.show_message = show_message

    def save_filter(self, query: str, suggested: str) -> None:
        """Ask for a name, then save ``query`` (filter syntax) under it."""
        name, ok = QInputDialog.getText(self.dialogs, "Save view",
                                        f"Name for the view\n({query})", text=suggested)
        if ok and name.strip():
            self.bridge.run(ops.save_view, name=name, query=query, initiator=self)

    def rename(self, name: str, query: str) -> None:
        new, ok = QInputDialog.getText(self.dialogs, "Rename view", "New name", text=name)
        if ok and new.strip() and new.strip() != name:
            self.bridge.run(rename_view, old=name, new=new.strip(), query=query,
                            initiator=self)

    def delete(self, name: str) -> None:
        self.bridge.run(ops.delete_view, name=name, initiator=self,
                        on_done=lambda _r: self.show_message(f"Deleted view '{name}'"))

    def ask_save_search(self, query: str) -> None:
        """Ask for a name (the query itself suggested), then save the search under it."""
        if not query:
            return
        name, ok = QInputDialog.getText(self.dialogs, "Save search as view",
                                        f"Name for the view\n(search: {query})", text=query)
        if ok and name.strip():
            self.save_search(name.strip(), query)

    def save_search(self, name: str, query: str) -> None:
        self.bridge.run(ops.save_view, name=name, query=SEARCH_PREFIX + query, initiator=self,
                        on_done=lambda _r: self.show_message(f"Saved search '{name}'"))
