"""The case view's JIRA and Customer tabs, and the palette's way into them."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QTabWidget, QWidget

from app.ui.bridge import Bridge
from app.ui.customer_panel import CustomerPanel
from app.ui.integrations_panel import IntegrationsPanel

ACTIONS = ("jira_create", "jira_link", "salesforce_sync", "salesforce_lookup")


class IntegrationTabs:
    """Adds the JIRA and Customer panels to a case view's tabs; both follow its case."""

    def __init__(self, bridge: Bridge, tabs: QTabWidget) -> None:
        self.bridge = bridge
        self.tabs = tabs
        self.case_id: str | None = None
        self.jira = IntegrationsPanel(bridge)
        self.jira.setAccessibleName("JIRA issues linked to the case")
        self.customer = CustomerPanel(bridge)
        self.customer.setAccessibleName("The requester in Salesforce")
        self.jira_tab = tabs.addTab(self.jira, "JIRA")
        self.customer_tab = tabs.addTab(self.customer, "Customer")
        self.jira.sig_loaded.connect(self._jira_loaded)

    def set_case(self, case_id: str | None) -> None:
        if case_id != self.case_id:
            self.tabs.setTabText(self.jira_tab, "JIRA")  # the last case's count is not its
        self.case_id = case_id
        self.jira.set_case(case_id)
        self.customer.set_case(case_id)

    def _jira_loaded(self, issues: int, _requests: int) -> None:
        self.tabs.setTabText(self.jira_tab, f"JIRA ({issues})" if issues else "JIRA")

    def run(self, action: str) -> None:
        """A palette action on this case: its tab comes forward, then the action runs
        (a dialog once the panel has read the case)."""
        if self.case_id is None:
            self.bridge.sig_message.emit("Open a case first")
            return
        panel: QWidget
        steps: dict[str, tuple[QWidget, Callable[[], None]]] = {
            "jira_create": (self.jira, self.jira.open_create_dialog),
            "jira_link": (self.jira, self.jira.open_link_dialog),
            "salesforce_sync": (self.customer, self.customer.sync_case),
            "salesforce_lookup": (self.customer, self.customer.lookup)}
        panel, step = steps[action]
        self.tabs.setCurrentWidget(panel)
        step()
