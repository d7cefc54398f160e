"""The Changes an operation returns say which cases, fields and comments changed, and
whether list membership may have; pulled events are marked remote."""

from __future__ import annotations

from app.core.changes import Changes
from app.operations import cases as ops
from app.store.repo import Store


def test_field_edit_names_its_field_and_not_membership(store: Store) -> None:
    case_id, _key, created = ops.create_case(store, subject="Printer jams")
    assert created.created and created.membership
    changes = ops.set_fields(store, case=case_id, changes={"priority": "high"})
    assert changes.case_ids == {case_id}
    assert changes.fields == {"priority"}
    assert not changes.membership and not changes.comments and not changes.remote


def test_comment_and_tag_flags(store: Store) -> None:
    case_id, _key, _ = ops.create_case(store, subject="VPN drops")
    reply = ops.comment(store, case=case_id, body="Try again", internal=False)
    assert reply.comments and reply.comment_case_ids == {case_id}
    assert "status" in reply.fields  # a reply on a new case opens it
    tags = ops.tag(store, case=case_id, add=["vpn"])
    assert tags.fields == {"tags"} and not tags.comment_case_ids


def test_merge_marks_membership(store: Store) -> None:
    a, _, _ = ops.create_case(store, subject="one")
    b, _, _ = ops.create_case(store, subject="two")
    assert ops.merge(store, source=a, target=b).membership


def test_merged_changes_keep_an_initiator_only_when_both_share_it() -> None:
    view = object()
    first, second = Changes(initiator=view), Changes(initiator=view)
    first.merge(second)
    assert first.made_by(view)
    first.merge(Changes())
    assert first.initiator is None and not first.made_by(view)
