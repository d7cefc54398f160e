"""`smart-support login | logout | sync`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.paths import db_path
from app.store.repo import Store
from app.sync.api import ApiError, Offline, SyncApi
from app.sync.engine import sync_once
from app.sync.session import SyncSession, session_for


def run_sync_command(folder: Path, args: argparse.Namespace) -> int:
    store = Store(db_path(folder))
    try:
        if args.cmd == "login":
            password = sys.stdin.readline().rstrip("\r\n") if sys.stdin else ""
            if not password:
                print("smart-support: no password on standard input", file=sys.stderr)
                return 2
            server = args.server.rstrip("/")
            if store.get_meta("server_url") not in (None, "", server):
                store.set_meta("pull_cursor", "0")  # a different server: start over
            session = SyncSession(store, SyncApi(server))
            user = session.login(args.email, password)
            print(f"signed in as {user.get('name') or args.email} on {server}")
            return 0
        session = session_for(store)
        if args.cmd == "logout":
            session.logout()
            print("signed out")
            return 0
        report = sync_once(store, session)
        print(json.dumps(report.to_json()) if args.json else report.summary())
        return 0
    except Offline as exc:
        print(f"smart-support: offline: {exc}; your changes stay queued", file=sys.stderr)
        return 3
    except ApiError as exc:
        print(f"smart-support: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
