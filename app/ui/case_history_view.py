"""The case's history: every event, newest first — when, who, what, and whether the server
has it yet."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

from app.operations.case_queries import history_ms
from app.ui.case_list import full_time
from app.ui.widgets import plain_tip

__all__ = ["CaseHistory"]


class CaseHistory(QTreeWidget):
    """One row per event of the case (rows from ``case_queries``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("History")
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setHeaderLabels(["When", "Who", "What", "Sync"])
        self.setColumnWidth(0, 170)
        self.setColumnWidth(1, 130)
        self.setColumnWidth(2, 360)

    def fill(self, history: list[dict[str, Any]], agents: dict[str, str]) -> int:
        """Show ``history`` (oldest first), actors named from ``agents`` (id -> name);
        returns the number of rows."""
        self.clear()
        items = []
        for h in reversed(history):
            actor = agents.get(h["actor"], h["actor"])
            item = QTreeWidgetItem([full_time(history_ms(h["hlc"])), str(actor),
                                    str(h["summary"]), "✓" if h["synced"] else "local"])
            item.setToolTip(2, plain_tip(str(h["summary"])))
            item.setToolTip(1, plain_tip(str(h["actor"])))
            items.append(item)
        self.addTopLevelItems(items)
        return len(items)
