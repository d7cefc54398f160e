"""The manual LLM workflow on a real seeded store: prompt, copy, answer, apply, undo."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.operations import cases as case_ops
from app.operations import intake, llm
from app.operations.errors import NotFound, OperationError
from app.store import queries as q
from app.store import schema as s
from tests.intake_ops.conftest import case_id, snapshot


def detail(store: Any, key: str) -> dict[str, Any]:
    return store.read(lambda c: q.case_detail(c, case_id(store, key)))  # type: ignore[no-any-return]


def fenced(data: dict[str, Any]) -> str:
    return "Sure! Here it is:\n\n```json\n" + json.dumps(data) + "\n```\nHope it helps."


def people(store: Any, key: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    d = detail(store, key)
    agents = store.read(lambda c: q.directory(c, "agents"))
    return d, agents


def test_prompt_holds_no_personal_data(store: Any) -> None:
    d, agents = people(store, "SUP-3")
    requester = d["requester"]
    agent_names = {c["author_name"] for c in d["comments"] if c["author_kind"] == "agent"}
    assert agent_names
    # the customer writes their phone, address and a colleague's name in a comment
    case_ops.comment(store, case="SUP-3", internal=False, body=(
        f"Call me on {requester['phone']} or mail {requester['email']}; "
        f"my colleague {agents[1]['name']} ({agents[1]['email']}) knows too. "
        "Our API key is api_key=sk_live_51HxQ2kLmN0pQrStUvWx."))
    intake.add_text(store, case="SUP-3", text=f"2024-05-02 login by {requester['email']} "
                                              "from 10.20.30.40 failed with ERR-1042\n")
    built = llm.build(store, case="SUP-3", template="root_cause")
    text = built.text
    assert "ERR-1042" in text  # attachment extracts are in the prompt
    for secret in [requester["email"], requester["phone"], requester["name"],
                   *requester["name"].split(), agents[1]["name"], agents[1]["email"],
                   *agent_names, "10.20.30.40", "sk_live_51HxQ2kLmN0pQrStUvWx"]:
        assert secret not in text, secret
    assert "[EMAIL_1]" in text and "[PERSON_1]" in text and "[PHONE_1]" in text
    # spans point at the placeholders in the text
    assert all(text[sp.start:sp.end] == sp.placeholder for sp in built.spans)
    # the map is a local file, not an event
    assert (llm.maps_dir(store) / f"{built.sha256}.json").is_file()
    payloads = store.read(lambda c: [r[0] for r in c.execute(select(s.events.c.payload))])
    assert not any(requester["phone"] in p and "[PHONE_" in p for p in payloads)


def test_record_copy_keeps_the_hash_not_the_text(store: Any) -> None:
    built = llm.build(store, case="SUP-3", template="summarize")
    llm.record_copy(store, case="SUP-3", template="summarize", prompt_sha256=built.sha256)
    rows = store.read(lambda c: c.execute(select(s.events.c.payload, s.events.c.type).where(
        s.events.c.type == "llm.prompt_copied")).all())
    assert len(rows) == 1
    payload = json.loads(rows[0].payload)
    assert payload == {"template": "summarize", "prompt_sha256": built.sha256}
    assert built.sha256 == hashlib.sha256(built.text.encode()).hexdigest()
    history = store.read(lambda c: q.case_history(c, case_id(store, "SUP-3")))
    assert history[-1]["summary"] == "copied a 'summarize' prompt for the LLM"


def test_triage_answer_preview_apply_and_undo(store: Any) -> None:
    before = detail(store, "SUP-3")
    built = llm.build(store, case="SUP-3", template="triage")
    person = next(p for p, v in built.redaction_map.items() if p.startswith("[PERSON"))
    new_priority = "urgent" if before["priority"] != "urgent" else "low"
    other_product = next(p for p in ("DataFlow", "PrintHub", "CloudSync")
                         if p != before["product"])
    answer = fenced({"category": "outage", "priority": new_priority,
                     "product": other_product.lower(), "reason": f"{person} cannot print",
                     "tags": ["printer", "Needs Triage"]})
    preview = llm.preview_answer(store, case="SUP-3", template="triage", text=answer)
    ids = {c.id: c for c in preview.changes}
    assert ids["field:priority"].new == new_priority
    assert ids["field:product"].new == other_product  # canonical spelling of a known product
    assert "needs-triage" in ids["tags"].new
    assert any(built.redaction_map.original(person) in i for i in preview.info)  # restored
    snap = snapshot(store)
    assert snapshot(store) == snap  # preview wrote nothing
    ids["tags"].accepted = False
    result = llm.apply_answer(store, case="SUP-3", preview=preview)
    after = detail(store, "SUP-3")
    assert after["priority"] == new_priority and after["product"] == other_product
    assert "needs-triage" not in after["tags"]
    assert result.composer_text is None
    audit = store.read(lambda c: c.execute(select(s.events.c.payload).where(
        s.events.c.type == "llm.answer_accepted")).scalars().all())
    assert json.loads(audit[-1]) == {"template": "triage",
                                     "answer_sha256": hashlib.sha256(answer.encode()).hexdigest(),
                                     "applied": [c for c in ids if c != "tags"]}
    case_ops.undo(store)
    undone = detail(store, "SUP-3")
    assert (undone["priority"], undone["product"], undone["type"]) == \
        (before["priority"], before["product"], before["type"])


def test_unknown_product_is_proposed_unticked(store: Any) -> None:
    llm.build(store, case="SUP-3", template="triage")
    preview = llm.preview_answer(store, case="SUP-3", template="triage", text=json.dumps(
        {"category": "bug", "priority": "high", "product": "Quantum Toaster", "reason": "x"}))
    product = preview.change("field:product")
    assert not product.accepted and "not a known product" in product.label


def test_draft_reply_goes_to_the_composer(store: Any) -> None:
    built = llm.build(store, case="SUP-3", template="draft_reply")
    person = next(p for p, _ in built.redaction_map.items() if p.startswith("[PERSON"))
    before = snapshot(store)
    n = len(detail(store, "SUP-3")["comments"])
    preview = llm.preview_answer(store, case="SUP-3", template="draft_reply", text=fenced(
        {"subject": "Re: printer", "body": f"Hello {person},\n\nplease restart the queue.",
         "language": "en"}))
    assert snapshot(store) == before
    result = llm.apply_answer(store, case="SUP-3", preview=preview)
    assert result.composer_text == (f"Hello {built.redaction_map.original(person)},\n\n"
                                    "please restart the queue.")
    assert result.applied == ["reply"]
    # nothing sent: only the audit event, which is not an undoable operation
    assert len(detail(store, "SUP-3")["comments"]) == n
    assert "LLM" not in (store.last_undoable_label() or "")


def test_summary_becomes_an_internal_note(store: Any) -> None:
    llm.build(store, case="SUP-3", template="summarize")
    n = len(detail(store, "SUP-3")["comments"])
    preview = llm.preview_answer(store, case="SUP-3", template="summarize", text=fenced(
        {"summary": "Printer queue stuck.", "customer_goal": "Print again",
         "current_state": "Waiting on us", "open_questions": ["Which model?"]}))
    note = preview.change("note")
    note.new += "\n\nChecked by me."  # the agent edits the draft before accepting
    llm.apply_answer(store, case="SUP-3", preview=preview)
    last = detail(store, "SUP-3")["comments"][-1]
    assert len(detail(store, "SUP-3")["comments"]) == n + 1
    assert last["internal"] and "Printer queue stuck." in last["body"]
    assert "- Which model?" in last["body"] and last["body"].endswith("Checked by me.")
    case_ops.undo(store)
    assert len(detail(store, "SUP-3")["comments"]) == n


@pytest.mark.parametrize(("text", "message"), [
    ("I think the priority should be high.", "no JSON object"),
    ('{"priority": "high"}', "does not fit the triage template"),
    ('{"category": "bug", "priority": "sky-high", "product": "", "reason": "x"}',
     "expected one of low, normal, high, urgent"),
    ('{"category": "bug", "priority": "high", "product": "", "reason": "[PERSON_77] said so"}',
     "never issued: [PERSON_77]"),
])
def test_bad_answers_are_refused(store: Any, text: str, message: str) -> None:
    llm.build(store, case="SUP-3", template="triage")
    before = snapshot(store)
    with pytest.raises(OperationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        llm.preview_answer(store, case="SUP-3", template="triage", text=text)
    assert snapshot(store) == before


def test_unknown_template_and_case(store: Any) -> None:
    with pytest.raises(NotFound, match="no prompt template named 'nope'"):
        llm.build(store, case="SUP-3", template="nope")
    with pytest.raises(NotFound):
        llm.build(store, case="NOPE-1", template="triage")


def test_redact_selection_adds_a_placeholder(store: Any) -> None:
    built = llm.build(store, case="SUP-3", template="summarize")
    word = "PrintHub" if "PrintHub" in built.text else detail(store, "SUP-3")["product"]
    start = built.text.index(word)
    more = llm.redact_selection(store, case="SUP-3", built=built, start=start,
                                end=start + len(word), kind="SECRET")
    assert word not in more.text and more.sha256 != built.sha256
    assert (llm.maps_dir(store) / f"{more.sha256}.json").is_file()


def test_admin_template_overrides(store: Any, tmp_path: Path) -> None:
    folder = llm.maps_dir(store).parent / llm.PROMPTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    src = json.loads((Path(llm.__file__).parents[2] / "resources" / "prompts" /
                      "summarize.json").read_text())
    src["title"] = "Summarize for the night shift"
    (folder / "summarize.json").write_text(json.dumps(src))
    titles = {t["name"]: t["title"] for t in llm.template_list(store)}
    assert titles["summarize"] == "Summarize for the night shift"
