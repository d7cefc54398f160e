"""`smart-support-server mailbox add|list|remove|test` (sync_server/cli.py parses them)."""

from __future__ import annotations

import argparse
import json
import smtplib
import sys

from sqlalchemy import Engine

from sync_server.mail import fetch, smtp_check, store
from sync_server.mail.poll import server_secret
from sync_server.mail.secrets import SecretError
from sync_server.services.accounts import AdminError
from sync_server.settings import load_settings


def _secret(args: argparse.Namespace) -> str:
    # The secret `serve` signs with (and that the workers open passwords with).
    settings = load_settings(data_dir=args.data_dir, db_url=args.db)
    secret = server_secret(settings) or settings.require_secret()
    return secret


def _render(boxes: list[store.Mailbox]) -> str:
    if not boxes:
        return "no mailboxes (add one with `mailbox add TEAM ADDRESS ...`)"
    lines = []
    for box in boxes:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(box.counts.items())) or "none yet"
        lines.append(f"{box.team_name} {box.address}: {box.state}"
                     + (f" ({box.last_error})" if box.last_error else "")
                     + f"\n  in {box.imap.display()}  out {box.smtp.display()}"
                     + f"\n  messages: {counts}")
    return "\n".join(lines)


def _test(box: store.Mailbox, secret: str) -> str:
    try:
        password = box.login_password(secret)
    except SecretError as exc:
        raise AdminError(str(exc)) from None
    lines, failed = [], False
    try:
        lines.append(fetch.check_login(box.imap, password))
    except fetch.ImapError as exc:
        lines.append(f"IMAP {box.imap.site}: FAILED: {exc}")
        failed = True
    try:
        lines.append(smtp_check.check_login(box.smtp, password))
    except (OSError, smtplib.SMTPException) as exc:
        lines.append(f"SMTP {box.smtp.site}: FAILED: {str(exc)[:300]}")
        failed = True
    if failed:
        raise AdminError("\n".join(lines))
    return "\n".join(lines)


def mailbox_command(args: argparse.Namespace, engine: Engine) -> str:
    match args.action:
        case "add":
            password = sys.stdin.readline().rstrip("\r\n")
            store.add(engine, team=args.team, address=args.address, imap_url=args.imap,
                      smtp_url=args.smtp, password=password, server_secret=_secret(args))
            return f"mailbox {args.address} added to {args.team}"
        case "list":
            boxes = store.list_all(engine)
            if args.json:
                return json.dumps([b.public() for b in boxes], indent=2, sort_keys=True)
            return _render(boxes)
        case "remove":
            store.remove(engine, team=args.team, address=args.address)
            return f"mailbox {args.address} removed from {args.team} (nothing was deleted in it)"
        case "test":
            return _test(store.get(engine, team=args.team, address=args.address),
                         _secret(args))
    raise AdminError(f"unknown command mailbox {args.action}")
