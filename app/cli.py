"""`smart-support`: the desktop app, and the same command language headless."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app import __version__
from app.paths import data_dir, db_path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="smart-support",
                                description="Smart Support Agent: local-first support desk.")
    p.add_argument("--data-dir", help="folder holding the database and index "
                                      "(default: the platform's user data folder)")
    p.add_argument("--version", action="store_true", help="print the version and exit "
                   "(with --verbose: commit, dirty flag and build time too)")
    p.add_argument("--verbose", action="store_true", help="more detail (with --version)")
    p.add_argument("--self-test", action="store_true",
                   help="check this install end to end in a temporary profile; exit 0 if good")
    sub = p.add_subparsers(dest="cmd")
    d = sub.add_parser("demo", help="seed realistic demo data")
    d.add_argument("--cases", type=int, default=2000)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--replace", action="store_true", help="discard existing data first")
    r = sub.add_parser("run", help="run one terminal command, e.g. run \"case list\"")
    r.add_argument("command")
    r.add_argument("--json", action="store_true", help="machine-readable output")
    s = sub.add_parser("screenshot", help="render the main window offscreen to a PNG")
    s.add_argument("out")
    s.add_argument("--view", default="list", help="list | case:KEY | search:QUERY | analytics")
    s.add_argument("--size", default="1400x900", help="WIDTHxHEIGHT")
    c = sub.add_parser("check", help="integrity check; rebuild projections if needed")
    c.add_argument("--repair", action="store_true", help="rebuild even if the check passes, "
                   "salvaging the event log of a damaged file")
    c.add_argument("--json", action="store_true")
    i = sub.add_parser("import", help="import cases (.jsonl, .csv) or an email (.eml, .msg)")
    i.add_argument("file")
    i.add_argument("--json", action="store_true")
    i.add_argument("--no-index", action="store_true",
                   help="leave the search index to the app's next start")
    lg = sub.add_parser("login", help="sign in to a sync server")
    lg.add_argument("--server", required=True, help="e.g. https://sync.example.com:8765")
    lg.add_argument("--email", required=True)
    lg.add_argument("--password-stdin", action="store_true", required=True,
                    help="read the password from standard input (never from the command line)")
    sub.add_parser("logout", help="sign out and forget the stored token")
    sy = sub.add_parser("sync", help="one push/pull round with the sync server")
    sy.add_argument("--json", action="store_true")
    return p


def _fail(message: str, code: int = 1) -> int:
    print(f"smart-support: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    import multiprocessing

    # The index build's worker processes are spawned: in a frozen (PyInstaller) app each
    # worker starts this executable again, and this turns it into the worker.
    multiprocessing.freeze_support()
    args = _parser().parse_args(argv)
    if args.version:
        from app.build_info import describe, read_build_info

        print(describe(read_build_info()) if args.verbose else f"smart-support {__version__}")
        return 0
    if args.self_test:
        from app.selftest import run_self_test

        return run_self_test()
    folder = data_dir(args.data_dir)
    from app.core.errors import AppError

    try:
        if args.cmd is None:
            from app.ui.app import run_app

            return run_app(folder)
        if args.cmd == "demo":
            return _demo(folder, args)
        if args.cmd == "run":
            return _run(folder, args)
        if args.cmd == "screenshot":
            return _screenshot(folder, args)
        if args.cmd == "check":
            from app.maintenance import check

            report = check(folder, repair=args.repair)
            print(json.dumps(report, indent=2) if args.json else report["summary"])
            return 0 if report["ok"] else 1
        if args.cmd == "import":
            return _import(folder, args)
        if args.cmd in ("login", "logout", "sync"):
            from app.sync.cli import run_sync_command

            return run_sync_command(folder, args)
    except AppError as exc:  # any expected failure: one clear line, no traceback
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    return _fail(f"unknown command {args.cmd}")


def _open(folder: Path) -> Any:
    from app.store.repo import Store

    return Store(db_path(folder))


def _demo(folder: Path, args: argparse.Namespace) -> int:
    if args.cases < 1 or args.cases > 1_000_000:
        return _fail("--cases must be between 1 and 1,000,000", 2)
    path = db_path(folder)
    if path.exists():
        if not args.replace:
            store = _open(folder)
            from app.store import queries as q

            has_cases = bool(store.read(q.status_counts))
            store.close()
            if has_cases:
                return _fail(f"{folder} already holds cases; use --replace to discard them", 2)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        import shutil

        shutil.rmtree(folder / "index", ignore_errors=True)
    from app.store.demo import seed_demo

    store = _open(folder)

    def progress(stage: str, done: int, total: int) -> None:
        print(f"\r{stage}: {done:,}/{total:,}", end="", file=sys.stderr, flush=True)

    counts = seed_demo(store, cases=args.cases, seed=args.seed, progress=progress)
    print(file=sys.stderr)
    # Build the search index now, so the first search is instant.
    from app.search.service import SearchService

    service = SearchService(folder, store)
    service.ensure_index(progress=lambda done, total: progress("indexing", done, total))
    service.close()
    print(file=sys.stderr)
    store.close()
    print(json.dumps(counts))
    return 0


def _run(folder: Path, args: argparse.Namespace) -> int:
    from app.terminal.runner import execute

    def stdin() -> str:
        if sys.stdin is None or sys.stdin.isatty():
            raise_msg = "expected text on standard input (pipe or redirect a file)"
            from app.terminal.parser import CommandError

            raise CommandError(raise_msg)
        return sys.stdin.read()

    store = _open(folder)
    try:
        result = execute(store, args.command, stdin=stdin)
    finally:
        store.close()
    if args.json:
        payload = result.data if result.ok else {"error": result.text}
        print(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
    elif result.ok:
        print(result.text)
    if not result.ok:
        if not args.json:
            print(f"smart-support: {result.text}", file=sys.stderr)
        return result.exit_code or 1
    return 0


def _screenshot(folder: Path, args: argparse.Namespace) -> int:
    try:
        w, h = (int(x) for x in args.size.lower().split("x"))
    except ValueError:
        return _fail(f"--size must look like 1400x900, not '{args.size}'", 2)
    if not (200 <= w <= 8000 and 200 <= h <= 8000):
        return _fail("--size must be between 200x200 and 8000x8000", 2)
    if not db_path(folder).exists():
        return _fail(f"no data in {folder}; run `smart-support demo` first", 2)
    from app.ui.screenshot import take

    try:
        take(folder, Path(args.out), view=args.view, size=(w, h))
    except ValueError as exc:
        return _fail(str(exc), 2)
    print(args.out)
    return 0


def _import(folder: Path, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        return _fail(f"no file {path}", 2)
    from app.intake_cli import import_any

    return import_any(folder, path, as_json=args.json, index=not args.no_index)


if __name__ == "__main__":
    sys.exit(main())
