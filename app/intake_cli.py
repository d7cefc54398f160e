"""`smart-support import FILE`: cases from JSON Lines / CSV, or an email as a case."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from app.paths import db_path


def index_after_import(folder: Path, store: Any) -> dict[str, Any]:
    """Bring the search index up to date, showing progress on stderr; what happened.

    Cases become findable batch by batch (each batch is committed). An index another
    process is writing (the app is open) is left to it: the import itself succeeded."""
    from app.search.service import SearchService

    def progress(done: int, total: int) -> None:
        print(f"\rindexing {done:,}/{total:,}", end="", file=sys.stderr, flush=True)

    service = SearchService(folder, store)
    try:
        service.ensure_index(progress=progress)
        return {"indexed": True, "indexed_seq": service.indexed_seq}
    except Exception as exc:  # noqa: BLE001 - e.g. the app holds the index's write lock
        return {"indexed": False, "index_error": f"{type(exc).__name__}: {exc}"}
    finally:
        print(file=sys.stderr)
        service.close()


def import_any(folder: Path, path: Path, *, as_json: bool = False, index: bool = True) -> int:
    from app.store.repo import Store

    suffix = path.suffix.lower()
    store = Store(db_path(folder))
    try:
        if suffix in (".jsonl", ".ndjson", ".json", ".csv"):
            from app.store.importer import import_file

            def progress(done: int, total: int) -> None:
                print(f"\rread {done:,}/{total:,} lines", end="", file=sys.stderr, flush=True)

            # Rerunning a killed (or finished) import is safe: cases already there are
            # recognised and counted, not added again.
            report = import_file(store, path, progress=progress)
            print(file=sys.stderr)
            data: dict[str, Any] = {
                "imported": report.imported, "skipped": report.skipped,
                "already_imported": report.already,
                "errors": [{"line": n, "message": m} for n, m in report.errors]}
            if index:
                data.update(index_after_import(folder, store))
                if not data["indexed"]:
                    print(f"search index not updated now ({data['index_error']}); the app "
                          "indexes the new cases when it starts", file=sys.stderr)
            if as_json:
                print(json.dumps(data, indent=2))
            else:
                print(f"imported {report.imported:,} cases, skipped {report.already:,} already "
                      f"imported, skipped {report.skipped:,} with errors")
                for n, m in report.errors[:50]:
                    print(f"  line {n}: {m}", file=sys.stderr)
            return 0 if report.imported or report.already or not report.errors else 1
        if suffix in (".eml", ".msg"):
            from app.operations.intake import import_email

            key, created = import_email(store, path)
            data = {"key": key, "created": created}
            print(json.dumps(data) if as_json else f"{'created' if created else 'updated'} {key}")
            return 0
        print(f"smart-support: cannot import '{suffix}' files (use .jsonl, .csv, .eml, .msg)",
              file=sys.stderr)
        return 2
    finally:
        store.close()
