"""The window's commands: its keyboard shortcuts and the command palette's actions."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from app.operations.navigation import BUILTIN_VIEWS
from app.ui.drafts_dialog import show_drafts
from app.ui.palette import Action
from app.ui.shortcuts import Entry

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


def shortcut_entries(w: MainWindow) -> list[Entry]:
    """(keys, what it does, slot); keys with "" are left off the cheat sheet."""
    return [
        ("Ctrl+N", "New case", w.new_case),
        ("Ctrl+K", "Command palette: jump to a case or run a command", w.open_palette),
        ("Ctrl+F", "Search every case (as you type)", w.focus_search),
        ("Ctrl+L", "Filter the current view", w.focus_filter),
        ("J", "Next case in the list", lambda: w.move_selection(1)),
        ("K", "Previous case in the list", lambda: w.move_selection(-1)),
        ("Return", "Open the selected case in a tab", w.open_current_in_tab),
        ("R", "Reply to the requester", lambda: w.focus_composer(False)),
        ("N", "Write an internal note", lambda: w.focus_composer(True)),
        ("Ctrl+Return", "Send the reply or note", lambda: None),
        ("Ctrl+Shift+L", "Ask the LLM about the case (redacted prompt)", lambda: None),
        ("Ctrl+Z", "Undo the last change", w.undo),
        ("Ctrl+E", "Edit the selected cases together", w.bulk_edit),
        ("Ctrl+W", "Close the case tab", lambda: w.close_tab(w.tabs.currentIndex())),
        ("Ctrl+Tab", "Next tab", lambda: w.case_tabs.cycle(1)),
        ("Ctrl+Shift+Tab", "Previous tab", lambda: w.case_tabs.cycle(-1)),
        ("Ctrl+`", "Show or hide the terminal", w.toggle_terminal),
        ("F5", "Refresh", w.refresh_all),
        ("F1", "This cheat sheet (also ?)", w.show_cheatsheet),
        ("?", "", w.show_cheatsheet),
    ]


def palette_actions(w: MainWindow) -> list[Action]:
    go = w.sidebar.select
    actions = [
        Action("New case", "Ctrl+N", w.new_case),
        Action("Undo the last change", "Ctrl+Z", w.undo),
        Action("Search…", "Ctrl+F", w.focus_search),
        Action("Filter the current view", "Ctrl+L", w.focus_filter),
        Action("Go to the dashboard", "", partial(go, "dashboard")),
        Action("Go to view: SLA at risk", "", partial(go, "sla:at_risk")),
        Action("Go to view: Breached", "", partial(go, "sla:breached")),
        Action("Notifications", "", w.notifications.toggle_panel),
        Action("Reply to the current case", "R", lambda: w.focus_composer(False)),
        Action("Internal note on the current case", "N", lambda: w.focus_composer(True)),
        Action("Save current filter as view", "", w.save_current_view),
        Action("Edit the selected cases", "Ctrl+E", w.bulk_edit),
        Action("Sync now", "", w.sync.sync_now),
        Action("Sign in to sync…", "", w.open_sign_in),
        Action("Sign out", "", w.sync.sign_out),
        Action("Show the terminal", "Ctrl+`", w.toggle_terminal),
        Action("Keyboard shortcuts", "F1", w.show_cheatsheet),
        Action("Drafts: where unsent typing waits", "", lambda: show_drafts(w)),
        Action("Refresh", "F5", w.refresh_all),
        *integration_actions(w),
    ]
    for view_id, (title, _f, _s) in BUILTIN_VIEWS.items():
        actions.append(Action(f"Go to view: {title}", "", partial(go, view_id)))
    return actions


def integration_actions(w: MainWindow) -> list[Action]:
    """JIRA and Salesforce on the current case (its JIRA or Customer tab comes forward)."""
    def on_case(action: str) -> Callable[[], None]:
        return lambda: w.current_detail().integrations.run(action)

    return [
        Action("JIRA: create issue from this case", "", on_case("jira_create")),
        Action("JIRA: link issue…", "", on_case("jira_link")),
        Action("Salesforce: sync case", "", on_case("salesforce_sync")),
        Action("Salesforce: look up requester", "", on_case("salesforce_lookup")),
    ]
