"""What an operation changed, and who asked, so views refresh only their part.

In the spirit of Anki's ``OpChanges``: the view that made a change (its ``initiator``)
updates from the operation's own result; other views read the flags, and a view that is not
showing marks itself stale and refreshes when it is shown again.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Changes:
    case_ids: set[str] = field(default_factory=set)
    created: bool = False
    comments: bool = False
    directory: bool = False
    views: bool = False
    sync: bool = False  # the outbox or sync state changed
    rebuilt: bool = False  # everything may have changed
    conflict_case_ids: set[str] = field(default_factory=set)  # a local edit lost (sync)
    event_ids: list[str] = field(default_factory=list)
    message: str = ""
    fields: set[str] = field(default_factory=set)
    """Case fields that changed ("status", "priority", ... and "tags", "links",
    "attachments", "key", "integrations": JIRA/Salesforce links and requests): a list whose
    filter and sort use none of them keeps its rows."""
    comment_case_ids: set[str] = field(default_factory=set)
    """Cases that got (or lost) a comment: only their conversations redraw."""
    membership: bool = False
    """A case was created, merged or deleted: any list may gain or lose rows."""
    remote: bool = False
    """The changes came from the server (a sync pull), not from an operation on this laptop."""
    initiator: object | None = None
    """Who asked for the change (the view that ran the operation; ``None`` for sync, the
    scheduler or the terminal). That view already shows the result and need not reload."""

    @property
    def cases(self) -> bool:
        return bool(self.case_ids) or self.created or self.rebuilt

    def made_by(self, view: object) -> bool:
        """True when ``view`` ran the operation that made these changes."""
        return self.initiator is not None and self.initiator is view

    def merge(self, other: Changes) -> None:
        self.case_ids |= other.case_ids
        self.created |= other.created
        self.comments |= other.comments
        self.directory |= other.directory
        self.views |= other.views
        self.sync |= other.sync
        self.rebuilt |= other.rebuilt
        self.conflict_case_ids |= other.conflict_case_ids
        self.event_ids += other.event_ids
        self.fields |= other.fields
        self.comment_case_ids |= other.comment_case_ids
        self.membership |= other.membership
        self.remote |= other.remote
        if self.initiator is not other.initiator:
            self.initiator = None  # two askers: nobody may skip the refresh
