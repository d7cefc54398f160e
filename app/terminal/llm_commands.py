"""Terminal commands for the manual LLM workflow:

    llm templates
    llm prompt KEY --template NAME [--copy]
    llm apply KEY --template NAME [--yes] [--allow-unknown] < answer.txt

``llm prompt`` prints the redacted prompt (``--copy`` also puts it on the clipboard and
clears it after 60 s if it still holds it). ``llm apply`` previews the changes an answer
read from standard input proposes; ``--yes`` applies them.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from typing import Any

from app.llm import clipboard
from app.operations import llm as llm_ops
from app.operations.errors import OperationError
from app.terminal.parser import Parser
from app.terminal.runner import CommandResult, Context, _changed, command

CLIPBOARD: clipboard.ClipboardBackend = clipboard.PYPERCLIP
"""The clipboard the CLI uses (tests put a fake here)."""

_CLEAR_LATER = """
import hashlib, sys, time
import pyperclip
time.sleep(float(sys.argv[1]))
try:
    if hashlib.sha256(pyperclip.paste().encode("utf-8")).hexdigest() == sys.argv[2]:
        pyperclip.copy("")
except Exception:
    pass
"""


def schedule_clear(seconds: float, text: str) -> None:
    """Clear the clipboard after ``seconds`` if it still holds ``text``.

    The CLI exits right after copying, so a timer thread would die with it: a small
    detached process waits instead. It is given the text's hash, never the text."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    kwargs: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                              "stderr": subprocess.DEVNULL, "close_fds": True}
    if sys.platform == "win32":
        kwargs["creationflags"] = (subprocess.DETACHED_PROCESS
                                   | subprocess.CREATE_NEW_PROCESS_GROUP)
    else:
        kwargs["start_new_session"] = True
    subprocess.Popen([sys.executable, "-c", _CLEAR_LATER, str(seconds), digest], **kwargs)


@command("llm templates", "llm templates")
def llm_templates(ctx: Context, args: list[str]) -> CommandResult:
    Parser(prog="llm templates").parse_args(args)
    rows = llm_ops.template_list(ctx.store)
    broken = [str(e) for e in llm_ops.templates(ctx.store).errors]
    text = "\n".join(f"{r['name']:<16} {r['title']}" for r in rows)
    if broken:
        text += "\n\nbroken templates (not loaded):\n" + "\n".join(f"  {b}" for b in broken)
    return CommandResult(True, text, rows)


@command("llm prompt", "llm prompt KEY --template NAME [--copy] [--language L] "
                       "[--draft TEXT]")
def llm_prompt(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="llm prompt")
    p.add_argument("key")
    p.add_argument("--template", required=True)
    p.add_argument("--copy", action="store_true")
    p.add_argument("--language")
    p.add_argument("--draft", help="the reply to translate (translate_reply)")
    a = p.parse_args(args)
    built = llm_ops.build(ctx.store, case=a.key, template=a.template, reply_draft=a.draft,
                          language=a.language)
    data = {"template": a.template, "prompt_sha256": built.sha256, "text": built.text,
            "redactions": len(built.redaction_map), "copied": False}
    if not a.copy:
        return CommandResult(True, built.text, data)
    try:
        clipboard.copy_text(built.text, CLIPBOARD)
    except clipboard.ClipboardUnavailable as exc:
        raise OperationError(f"{exc}; run without --copy and redirect the output "
                             "instead") from exc
    schedule_clear(llm_ops.CLEAR_CLIPBOARD_AFTER_S, built.text)
    changes = llm_ops.record_copy(ctx.store, case=a.key, template=a.template,
                                  prompt_sha256=built.sha256)
    data["copied"] = True
    return _changed(changes, built.text, data)


def _describe(preview: llm_ops.Preview, applied: bool) -> str:
    lines = [f"{preview.template} answer for {preview.case_key}:"]
    for c in preview.changes:
        mark = "[x]" if c.accepted else "[ ]"
        lines.append(f"  {mark} {c.label}")
        if c.kind in ("note", "reply"):
            lines += [f"      {line}" for line in str(c.new).splitlines()]
    lines += [f"  note: {i}" for i in preview.info]
    lines += [f"  warning: {w}" for w in preview.warnings]
    if not applied:
        lines.append("(preview: nothing written; add --yes to apply the ticked changes)")
    return "\n".join(lines)


def _preview_data(preview: llm_ops.Preview) -> dict[str, Any]:
    return {"case": preview.case_key, "template": preview.template,
            "answer_sha256": preview.answer_sha256,
            "changes": [{"id": c.id, "kind": c.kind, "label": c.label, "field": c.field,
                         "old": c.old, "new": c.new, "accepted": c.accepted}
                        for c in preview.changes],
            "info": preview.info, "warnings": preview.warnings}


@command("llm apply", "llm apply KEY --template NAME [--yes] [--allow-unknown] "
                      "[--prompt SHA256]   (reads the answer from standard input)")
def llm_apply(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="llm apply")
    p.add_argument("key")
    p.add_argument("--template", required=True)
    p.add_argument("--yes", action="store_true")
    p.add_argument("--allow-unknown", action="store_true",
                   help="accept placeholders the prompt never had (left as they are)")
    p.add_argument("--prompt", help="the sha256 of the prompt the answer is for")
    a = p.parse_args(args)
    text = ctx.read_stdin()
    preview = llm_ops.preview_answer(ctx.store, case=a.key, template=a.template, text=text,
                                     prompt_sha256=a.prompt,
                                     allow_unknown_placeholders=a.allow_unknown)
    data = _preview_data(preview)
    if not a.yes:
        data["applied"] = False
        return CommandResult(True, _describe(preview, False), data)
    result = llm_ops.apply_answer(ctx.store, case=a.key, preview=preview)
    data.update(applied=True, applied_changes=result.applied,
                composer_text=result.composer_text)
    text_out = _describe(preview, True) + f"\napplied: {', '.join(result.applied)}"
    if result.composer_text:
        text_out += "\n\nreply for the composer (not sent):\n" + result.composer_text
    return _changed(result.changes, text_out, data)
