"""The job queue's fault run (issue 11): N integration requests pushed over HTTP to a real
server process whose in-process workers call a local fake remote that fails (503) or times
out 30 % of the time (15 % 503, 10 % no answer, 5 % made but the answer lost), with the
server SIGKILLed K times part-way. Prints JSON: every request must end done or failed with
a reason, none lost, no remote object created twice.

    .venv/bin/python bench/jobs_fault_run.py [--requests 1000] [--kills 2] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.jobs_processes import fault_run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jobs-fault-") as folder:
        run = fault_run(Path(folder) / "data", requests=args.requests, kills=args.kills,
                        seed_=args.seed, timeout_s=3600)
    figures = run.figures()
    figures["ok"] = (not run.lost and not run.failed_without_reason
                     and not run.remote["duplicates"]
                     and run.done + run.failed == args.requests)
    print(json.dumps(figures, indent=2))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
