"""Mail out throughput and delay (issue 17). Prints JSON.

The real server (in-process uvicorn on loopback, its job workers running) with a team
mailbox whose SMTP end is a loopback aiosmtpd (tests/mail/smtp_capture.py). N public
replies are pushed over HTTP in batches; each becomes a mail/send job due after the undo
window and is sent over SMTP.
- replies_per_s: N / (the last message's arrival - the first push)
- delay_p50_s, delay_p95_s: per reply, its arrival at the SMTP server - its push; the target
  is p95 <= 2 s + the undo window. Run with --undo 0 and with the default 10.

    .venv/bin/python bench/mail_send.py [--replies 200] [--undo 0] [--workers 4] [--cases 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import update  # noqa: E402

from sync_server.db import make_engine, migrate  # noqa: E402
from sync_server.ids import uuid7  # noqa: E402
from sync_server.mail import store  # noqa: E402
from sync_server.main import create_app  # noqa: E402
from sync_server.services import accounts  # noqa: E402
from sync_server.settings import Settings  # noqa: E402
from sync_server.tables import mailboxes  # noqa: E402
from tests.mail.smtp_capture import SmtpCapture  # noqa: E402
from tests.server.helpers import event, live_server  # noqa: E402

SECRET = "bench-secret-" + "s" * 40
AGENT, PASSWORD = "ana@example.com", "a long enough password"


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:  # noqa: PLR0915 - one straight run
    parser = argparse.ArgumentParser()
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--undo", type=int, default=0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--cases", type=int, default=50, help="replies spread over N cases")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mail-send-"))
    settings = Settings(db_url=f"sqlite:///{tmp / 'srv.sqlite3'}", data_dir=tmp / "srv",
                        secret=SECRET, job_poll_s=0.1, job_workers=args.workers,
                        mail_poll_s=600)
    engine = make_engine(settings.db_url)
    migrate(engine)
    team = accounts.add_team(engine, name="Support", prefix="SUP")
    accounts.add_user(engine, email=AGENT, name="Ana", role="agent", password=PASSWORD)
    accounts.add_member(engine, team="Support", email=AGENT)
    smtp = SmtpCapture().start()
    box = store.add(engine, team="Support", address="support@example.test",
                    imap_url="imap://support@127.0.0.1:9?tls=none", smtp_url=smtp.url,
                    password="bench-mailbox-pw", server_secret=SECRET)
    with engine.begin() as conn:
        conn.execute(update(mailboxes).where(mailboxes.c.id == box)
                     .values(settings=json.dumps({"undo_s": args.undo})))
    app = create_app(settings, engine=engine, run_migrations=False, workers=True)
    pushed: dict[str, float] = {}
    with live_server(app) as url:
        http = httpx.Client(base_url=url + "/api/v1", timeout=30)
        token = http.post("/auth/login", json={"email": AGENT, "password": PASSWORD}
                          ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        customer, case_ids = uuid7(), [uuid7() for _ in range(max(1, args.cases))]
        http.post("/events/push", headers=headers, json={"events": [
            event(AGENT, team, type_="customer.upserted",
                  payload={"id": customer, "name": "Pat", "email": "pat@customer.test"}),
            *(event(AGENT, team, type_="case.created", case_id=case_id, payload={
                "fields": {"subject": "Bench", "team_id": team, "requester_id": customer},
                "tags": []}) for case_id in case_ids)]}).raise_for_status()
        start = time.time()
        for first in range(0, args.replies, args.batch):
            batch = [event(AGENT, team, case_id=case_ids[n % len(case_ids)],
                           payload={"body": f"reply {n}"})
                     for n in range(first, min(args.replies, first + args.batch))]
            at = time.time()
            http.post("/events/push", headers=headers, json={"events": batch}
                      ).raise_for_status()
            pushed.update({e["id"]: at for e in batch})
        deadline = time.time() + args.undo + 120 + args.replies
        while len(smtp.messages) < args.replies and time.time() < deadline:
            time.sleep(0.05)
    smtp.stop()
    engine.dispose()
    got = smtp.messages
    body_of = {m.message.get_body(("plain",)).get_content().strip(): m.at  # type: ignore[union-attr]
               for m in got}
    by_body = {f"reply {n}": t for n, t in enumerate(pushed.values())}
    delays = [body_of[b] - t for b, t in by_body.items() if b in body_of]
    last = max((m.at for m in got), default=start)
    print(json.dumps({
        "replies": args.replies, "delivered": len(got), "undo_s": args.undo,
        "workers": args.workers, "cases": len(case_ids),
        "replies_per_s": round(len(got) / max(last - start, 1e-9), 1),
        "delay_p50_s": round(statistics.median(delays), 3) if delays else None,
        "delay_p95_s": round(_p(delays, 0.95), 3) if delays else None,
        "target_p95_s": 2 + args.undo}, indent=2))


if __name__ == "__main__":
    main()
