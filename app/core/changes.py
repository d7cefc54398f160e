"""What an operation changed, so views refresh only their part."""

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

    @property
    def cases(self) -> bool:
        return bool(self.case_ids) or self.created or self.rebuilt

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
