"""``smart-support-server``: run the server and administer users and teams.

    smart-support-server [--data-dir DIR | --db URL] serve [--host H] [--port P] [--tls-cert F --tls-key F]
                                                           [--trusted-proxy ADDR]...
    smart-support-server [...] user add EMAIL --name N [--role agent|lead|admin] --password-stdin
    smart-support-server [...] user disable EMAIL
    smart-support-server [...] team add NAME [--prefix SUP]
    smart-support-server [...] team add-member TEAM EMAIL
    smart-support-server [...] team remove-member TEAM EMAIL
    smart-support-server [...] worker                      (job workers only; serve runs them
                                                            in-process unless --no-workers)
    smart-support-server [...] integrations status [--json]
    smart-support-server [...] integrations retry JOB_ID
    smart-support-server [...] mailbox add TEAM ADDRESS --imap URL --smtp URL --password-stdin
    smart-support-server [...] mailbox list [--json]
    smart-support-server [...] mailbox remove TEAM ADDRESS
    smart-support-server [...] mailbox test TEAM ADDRESS
    smart-support-server [...] backup OUT                  (SQLite: a new folder; PostgreSQL:
    smart-support-server [...] restore IN                   a pg_dump file; docs/deploy.md)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine

from sync_server.db import make_engine, migrate
from sync_server.jobs import queue as job_queue
from sync_server.jobs import status as job_status
from sync_server.services import accounts
from sync_server.settings import SettingsError, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smart-support-server",
                                     description="Smart Support sync server")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data-dir", type=Path, metavar="DIR", help="data folder (SQLite file, blobs, secret)")
    where.add_argument("--db", metavar="URL", help="database URL, e.g. postgresql+psycopg://...")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--tls-cert", type=Path)
    serve.add_argument("--tls-key", type=Path)
    serve.add_argument("--blob-store", choices=["fs", "db"], default=None,
                       help="where attachments live (default: fs, in the data folder)")
    serve.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDR",
                       help="a reverse proxy (IP or network, repeatable) whose "
                            "X-Forwarded-For/-Proto headers are believed; by default none "
                            "is, so a client cannot pick the address login throttling sees")

    serve.add_argument("--no-workers", action="store_true",
                       help="do not run the job queue's workers in this process (run "
                            "`smart-support-server worker` beside it)")
    commands.add_parser("worker", help="run the job queue's workers (integrations) only")
    integrations = commands.add_parser("integrations", help="the integration job queue") \
        .add_subparsers(dest="action", required=True)
    status = integrations.add_parser("status", help="breakers, queue lengths, last errors")
    status.add_argument("--json", action="store_true", help="print JSON")
    retry = integrations.add_parser("retry", help="re-queue a failed job")
    retry.add_argument("job_id", metavar="JOB_ID")

    _mailbox_parser(commands)
    backup = commands.add_parser("backup", help="copy the database (online), blobs and secret")
    backup.add_argument("out", type=Path, metavar="OUT")
    restore = commands.add_parser("restore", help="restore a backup into an empty database")
    restore.add_argument("source", type=Path, metavar="IN")

    user = commands.add_parser("user", help="manage accounts").add_subparsers(
        dest="action", required=True)
    add = user.add_parser("add", help="create an account")
    add.add_argument("email")
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=list(accounts.ROLES), default="agent")
    add.add_argument("--password-stdin", action="store_true", required=True,
                     help="read the password from standard input")
    disable = user.add_parser("disable", help="disable an account (effective immediately)")
    disable.add_argument("email")

    team = commands.add_parser("team", help="manage teams").add_subparsers(
        dest="action", required=True)
    team_add = team.add_parser("add", help="create a team")
    team_add.add_argument("name")
    team_add.add_argument("--prefix", help="case key prefix (default: first 3 letters)")
    for name in ("add-member", "remove-member"):
        member = team.add_parser(name, help=f"{name.replace('-', ' ')} of a team")
        member.add_argument("team")
        member.add_argument("email")
    return parser


def _mailbox_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mailbox = commands.add_parser("mailbox", help="the teams' support mailboxes "
                                  "(docs/mailbox.md)").add_subparsers(dest="action",
                                                                      required=True)
    add = mailbox.add_parser("add", help="add a mailbox (or give one new URLs and password)")
    add.add_argument("team")
    add.add_argument("address")
    add.add_argument("--imap", required=True, metavar="URL",
                     help="imaps://USER@HOST[:PORT][/FOLDER] or imap://USER@HOST:PORT[/FOLDER]")
    add.add_argument("--smtp", required=True, metavar="URL",
                     help="smtps://USER@HOST[:PORT] or smtp://[USER@]HOST:PORT")
    add.add_argument("--password-stdin", action="store_true", required=True,
                     help="read the password (both ends) from standard input")
    listing = mailbox.add_parser("list", help="the mailboxes, their state and counts")
    listing.add_argument("--json", action="store_true", help="print JSON")
    for name, text in (("remove", "forget a mailbox (nothing is deleted from it)"),
                       ("test", "log in to both ends and say what works")):
        one = mailbox.add_parser(name, help=text)
        one.add_argument("team")
        one.add_argument("address")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sync_server.graceful import GracefulServer
    from sync_server.main import create_app

    if (args.tls_cert is None) != (args.tls_key is None):
        print("error: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    from sync_server.logging_setup import configure

    log_config = configure()
    settings = load_settings(data_dir=args.data_dir, db_url=args.db, blob_store=args.blob_store)
    app = create_app(settings, workers=not args.no_workers)
    proxies = [p.strip() for p in args.trusted_proxy if p.strip()]
    config = uvicorn.Config(
        app, host=args.host, port=args.port, timeout_graceful_shutdown=5, log_config=log_config,
        # Idle keep-alive connections close after this (docs/server-limits.md); a stalled
        # body or a long request is ended by the request guard (sync_server/guards.py).
        timeout_keep_alive=max(1, math.ceil(settings.keep_alive_timeout_s)),
        h11_max_incomplete_event_size=16 * 1024,  # request line + headers, bytes
        ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
        ssl_keyfile=str(args.tls_key) if args.tls_key else None,
        # Behind a proxy every client has the proxy's address: throttling by address would
        # lock out everyone after a few failures, so the proxy's header is used instead.
        proxy_headers=bool(proxies), forwarded_allow_ips=proxies or [],
    )
    GracefulServer(config, app.state.smart.broadcaster).run()
    return 0


def _worker(args: argparse.Namespace) -> int:
    import asyncio

    from sync_server.jobs.runner import run_alone
    from sync_server.logging_setup import configure

    configure()
    settings = load_settings(data_dir=args.data_dir, db_url=args.db, with_secret=False)
    code = asyncio.run(run_alone(settings))
    if code:
        print("error: another process runs the job workers of this SQLite database",
              file=sys.stderr)
    return code


def _backup(args: argparse.Namespace) -> int:
    from sync_server import backup

    settings = load_settings(data_dir=args.data_dir, db_url=args.db, with_secret=False)
    try:
        if args.command == "backup":
            print(backup.backup(settings, args.out))
        else:
            print(backup.restore(settings, args.source))
    except backup.BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _admin(args: argparse.Namespace, engine: Engine) -> str:
    match (args.command, args.action):
        case ("user", "add"):
            password = sys.stdin.readline().rstrip("\r\n")
            accounts.add_user(engine, email=args.email, name=args.name, role=args.role,
                              password=password)
            return f"user {args.email} added"
        case ("user", "disable"):
            accounts.disable_user(engine, args.email)
            return f"user {args.email} disabled"
        case ("team", "add"):
            accounts.add_team(engine, name=args.name, prefix=args.prefix)
            return f"team {args.name} added"
        case ("team", "add-member"):
            accounts.add_member(engine, team=args.team, email=args.email)
            return f"{args.email} added to {args.team}"
        case ("team", "remove-member"):
            accounts.remove_member(engine, team=args.team, email=args.email)
            return f"{args.email} removed from {args.team}"
        case ("integrations", "status"):
            data = job_status.status(engine)
            if args.json:
                return json.dumps(data, indent=2, sort_keys=True)
            return job_status.render(data, int(time.time() * 1000))
        case ("integrations", "retry"):
            settings = load_settings(data_dir=args.data_dir, db_url=args.db, with_secret=False)
            if not job_queue.retry(engine, args.job_id, int(time.time() * 1000),
                                   int(settings.job_give_up_h * 3_600_000)):
                raise accounts.AdminError(f"no failed job {args.job_id[:64]!r} "
                                          "(see `integrations status`)")
            return f"job {args.job_id} queued again"
        case ("mailbox", _):
            from sync_server.mail.admin import mailbox_command

            return mailbox_command(args, engine)
    raise accounts.AdminError(f"unknown command {args.command} {args.action}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "worker":
            return _worker(args)
        if args.command in ("backup", "restore"):
            return _backup(args)
        settings = load_settings(data_dir=args.data_dir, db_url=args.db, with_secret=False)
        engine = make_engine(settings.db_url, pool_size=1)
        try:
            migrate(engine)
            print(_admin(args, engine))
        finally:
            engine.dispose()
    except (accounts.AdminError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
