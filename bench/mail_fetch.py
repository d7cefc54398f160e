"""Mail in throughput (issue 17). Prints JSON.

A throwaway Dovecot (tests/mail/dovecot.py) holds N messages (each from its own sender, a
text body and a small attachment); one poll of the team mailbox fetches them over IMAP and
turns each into server-authored events (customer, case, key, attachments, the original
.eml) in a SQLite server database, one transaction per message.
- messages_per_s: N / the wall time of that one poll

    .venv/bin/python bench/mail_fetch.py [--messages 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from sync_server.db import make_engine, migrate  # noqa: E402
from sync_server.ids import ServerClock  # noqa: E402
from sync_server.mail import store  # noqa: E402
from sync_server.mail.poll import MailConfig, Poller  # noqa: E402
from sync_server.services import accounts  # noqa: E402
from sync_server.services.blobs import FsBlobStore  # noqa: E402
from sync_server.tables import events  # noqa: E402
from tests.mail import dovecot  # noqa: E402
from tests.mail.mails import mail  # noqa: E402

SECRET = "bench-secret-" + "b" * 40


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    server = dovecot.start()
    try:
        for n in range(args.messages):
            server.deliver(mail(sender=f"customer{n}@example.org", subject=f"Problem {n}",
                                body=f"Hello,\n\nproblem number {n}.\n\n-- \nCustomer {n}",
                                attachments=[("log.txt", "text/plain", b"E42\n" * 200)]))
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'server.sqlite3'}")
            migrate(engine)
            accounts.add_team(engine, name="Support", prefix="SUP")
            box = store.add(engine, team="Support", address="support@example.test",
                            imap_url=server.url(), smtp_url="smtp://127.0.0.1:25?tls=none",
                            password=dovecot.PASSWORD, server_secret=SECRET)
            poller = Poller(engine, SECRET, FsBlobStore(Path(folder) / "blobs"),
                            MailConfig(poll_s=60), clock=ServerClock())
            started = time.perf_counter()
            result = poller.poll_once(box)
            seconds = time.perf_counter() - started
            with engine.connect() as conn:
                cases = conn.execute(select(func.count()).select_from(events).where(
                    events.c.type == "case.created")).scalar_one()
            engine.dispose()
    finally:
        server.stop()
    print(json.dumps({"messages": args.messages, "cases": cases,
                      "state": result.state if result else None,
                      "seconds": round(seconds, 2),
                      "messages_per_s": round(args.messages / seconds, 1)}, indent=2))


if __name__ == "__main__":
    main()
