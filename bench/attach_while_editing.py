"""A 25 MB PDF attached while the agent edits another case: how long each edit waits.

    python bench/attach_while_editing.py [--before WORKTREE] [--pages 2000]

Offscreen, the real attachments bar and Bridge on a 300-case demo store: the PDF (2,000
text pages and a large embedded stream, just under the 25 MiB limit) is dropped on SUP-3's
bar; 300 ms later, and then every 100 ms until it is attached, a priority edit of SUP-5
runs through ``bridge.run``. Each edit's delay is from its submit to its result on the GUI
thread; ``idle`` is the same edit with nothing being attached. ``--before`` runs the same
measurement on another checkout too (e.g. ``git worktree add /tmp/h5-before 06dfc8c``)
and prints both.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r'''
import json, os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
root, pdf, work = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, root)
from pathlib import Path
from PySide6.QtCore import QCoreApplication, QEventLoop
from app.operations import cases as ops
from app.store import queries as q
from app.store.demo import seed_demo
from app.store.repo import Store
from app.ui.app import make_application
from app.ui.attachments_bar import AttachmentsBar
from app.ui.bridge import Bridge

app = make_application()
store = Store(Path(work) / "smart-support.db")
seed_demo(store, cases=300, seed=1)
bridge = Bridge(store)
bar = AttachmentsBar(bridge)
bar.show()


def pump(seconds=0.0, until=None, timeout=300.0):
    end = time.perf_counter() + (seconds if until is None else timeout)
    while time.perf_counter() < end and not (until is not None and until()):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)


bar.set_case(store.read(lambda c: q.resolve_case(c, "SUP-3")))
pump(until=lambda: bridge.pending == 0)
count = [0]


def edit():
    count[0] += 1
    done = []
    start = time.perf_counter()
    bridge.run(ops.set_fields, case="SUP-5",
               changes={"priority": ("high", "low")[count[0] % 2]},
               on_done=lambda _r: done.append(time.perf_counter()))
    pump(until=lambda: bool(done))
    return (done[0] - start) * 1000


idle = [edit() for _ in range(10)]
attached = []
errors = []
bar.sig_attached.connect(lambda _id: attached.append(time.perf_counter()))
bar.sig_error.connect(errors.append)
started = time.perf_counter()
bar.attach_files([Path(pdf)])
pump(0.3)
during = []
while not attached and not errors:
    during.append(edit())
    pump(0.1)
pump(until=lambda: bridge.pending == 0)
print(json.dumps({"idle": idle, "during": during, "errors": errors,
                  "attach_ms": (attached[0] - started) * 1000 if attached else None}))
bridge.shutdown()
store.close()
'''


def measure(code_root: Path, pdf: Path) -> dict[str, Any]:
    from bench.common import summary

    with tempfile.TemporaryDirectory(prefix="attach-bench-") as work:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(code_root), str(pdf), work],
                              capture_output=True, text=True, check=False, cwd=code_root)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    raw = json.loads(proc.stdout.strip().splitlines()[-1])
    during = raw["during"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code_root,
                            capture_output=True, text=True).stdout.strip()
    return {"code": commit, "attach_ms": round(raw["attach_ms"], 1) if raw["attach_ms"] else None,
            "errors": raw["errors"],
            "edits_during_attach": len(during),
            "first_edit_delay_ms": round(during[0], 1) if during else None,
            "max_edit_delay_ms": round(max(during), 1) if during else None,
            "edit_delay_during_attach": summary(during) if during else None,
            "edit_delay_idle": summary(raw["idle"])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", type=Path, default=None,
                    help="another checkout to measure too (the code before the change)")
    ap.add_argument("--pages", type=int, default=2000)
    args = ap.parse_args()
    from bench.common import emit
    from tests.support.seeded import intake_module

    intake_module("sample_logs")  # make_fixtures imports it by name
    make = intake_module("make_fixtures")
    with tempfile.TemporaryDirectory(prefix="attach-pdf-") as folder:
        pdf = Path(folder) / "export-log.pdf"
        pdf.write_bytes(make.big_pdf(pages=args.pages))
        figures: dict[str, Any] = {"pdf_bytes": pdf.stat().st_size, "pages": args.pages}
        if args.before is not None:
            figures["before"] = measure(args.before.resolve(), pdf)
        figures["after"] = measure(ROOT, pdf)
    emit(figures)


if __name__ == "__main__":
    main()
