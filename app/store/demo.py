"""Realistic demo data: organizations, customers, agents, teams and months of cases.

Demo events are written with ``server_seq = 0``: local seed data that is never pushed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core import events as ev
from app.core.hlc import Timestamp
from app.core.ids import uuid7
from app.store.repo import Store

FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jonas",
         "Kara", "Liam", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara",
         "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zoe", "Priya", "Mateo", "Aiko", "Lena"]
LAST = ["Silva", "Okafor", "Martin", "Novak", "Schmidt", "Haddad", "Kim", "Tanaka", "García",
        "Berg", "Nowak", "Rossi", "Dubois", "Ivanova", "Costa", "Murphy", "Jensen", "Patel",
        "Larsen", "Moreau", "Fischer", "Yilmaz", "Chen", "Kowalski", "O'Brien", "Nguyen"]
ORG_WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
             "Tyrell", "Cyberdyne", "Soylent", "Wonka", "Aperture", "Gringotts", "Oscorp",
             "Massive", "Dunder", "Pied Piper", "Monarch", "Nakatomi"]
ORG_SUFFIX = ["Logistics", "Health", "Retail", "Bank", "Labs", "Foods", "Energy", "Media",
              "Travel", "Insurance"]
PRODUCTS = ["DataFlow", "PrintHub", "CloudSync", "Billing Portal", "Mobile App", "Analytics API"]
TEAMS = [("support", "Support", "SUP"), ("billing", "Billing", "BIL"),
         ("platform", "Platform", "PLT")]
AGENTS = [("Alex Morgan", "lead", "support"), ("Sam Rivera", "agent", "support"),
          ("Jordan Lee", "agent", "support"), ("Casey Brooks", "agent", "support"),
          ("Riley Chen", "agent", "billing"), ("Morgan Diaz", "agent", "billing"),
          ("Taylor Singh", "lead", "platform"), ("Jamie Novak", "agent", "platform"),
          ("Avery Kowalski", "agent", "platform"), ("Drew Okafor", "admin", "support")]
PROBLEMS = [
    ("{p} sync fails with ERR-{code}", "Since this morning {p} stops syncing and shows "
     "ERR-{code}. We restarted the client twice. Affects {n} users in our {dept} team."),
    ("Cannot log in to {p} after password reset", "After resetting my password I get "
     "'invalid credentials' on {p}. Tried Chrome and Firefox."),
    ("Invoice {inv} charged twice", "Our card was charged twice for invoice {inv}. "
     "Please refund the duplicate payment."),
    ("{p} export times out for large reports", "Exports over {n}k rows time out after 30 "
     "seconds with HTTP 504 Gateway Timeout."),
    ("Printer queue stuck on {p}", "Jobs sent to the office printers stay queued in {p}; "
     "the printers show offline although they are on the network."),
    ("Feature request: dark mode in {p}", "Several of our agents would like a dark theme "
     "in {p}. Is this on the roadmap?"),
    ("API rate limit errors (HTTP 429) on {p}", "Our integration receives HTTP 429 Too Many "
     "Requests from {p} at about {n} requests per minute."),
    ("NullPointerException when saving a form in {p}", "Saving the onboarding form throws "
     "java.lang.NullPointerException at com.example.forms.FormService.save. Error ERR-{code}."),
    ("Data missing after upgrade to {p} v{ver}", "After upgrading to v{ver} some records from "
     "last week are missing in {p}."),
    ("How do I add a new user to {p}?", "We hired {n} new people. How do I add users and set "
     "their roles in {p}?"),
    ("SSO login loop with Okta on {p}", "Users are redirected back and forth between Okta and "
     "{p} and never get in. Started after we rotated the SAML certificate."),
    ("Refund request for order ORD-{order}", "Please cancel order ORD-{order}; it was placed "
     "by mistake."),
]
REPLIES = [
    "Thanks for reaching out, {first}. I'm looking into this now and will update you shortly.",
    "Could you send us the log file from the client (Help → Export logs) and the exact time "
    "the error happened?",
    "We have identified the cause and deployed a fix. Could you confirm it works on your side?",
    "I've escalated this to our engineering team; we'll keep you posted.",
    "This is expected behaviour in the current version; here is a workaround: restart the "
    "sync service and clear the local cache.",
]
CUSTOMER_FOLLOWUPS = [
    "Here is the log file you asked for. The error happened around 09:40 CET.",
    "Still happening for us, unfortunately. Any news?",
    "That worked, thank you so much!",
    "We see the same thing on a second machine now.",
]
NOTES = [
    "Looks like the known issue with the token cache; linking to the problem case.",
    "Customer is on the enterprise plan, handle with priority.",
    "Reproduced on staging with v{ver}.",
    "Waiting on engineering, checked again today.",
]
TAGS = ["vip", "bug", "billing", "how-to", "sso", "sync", "export", "refund", "printer",
        "api", "regression", "feature-request", "escalated", "enterprise"]
STATUS_WEIGHTS = [("new", 8), ("open", 25), ("pending", 12), ("on-hold", 5), ("solved", 30),
                  ("closed", 20)]
PRIORITY_WEIGHTS = [("low", 20), ("normal", 50), ("high", 22), ("urgent", 8)]


class _Gen:
    def __init__(self, seed: int, device: str) -> None:
        self.r = random.Random(seed)
        self.device = device
        self.events: list[ev.Event] = []
        self.counter = 0

    def add(self, type_: str, payload: dict[str, Any], ms: int, actor: str,
            case_id: str | None = None, team: str | None = None) -> ev.Event:
        self.counter = (self.counter + 1) % 1_000_000
        e = ev.Event(id=uuid7(), type=type_, payload=payload, actor=actor,
                     device_id=self.device, hlc=Timestamp(ms, self.counter).encode(),
                     case_id=case_id, team_id=team, server_seq=0)
        self.events.append(e)
        return e

    def pick(self, weighted: list[tuple[str, int]]) -> str:
        values, weights = zip(*weighted, strict=True)
        return str(self.r.choices(values, weights)[0])


def _email(name: str, domain: str) -> str:
    local = name.lower().replace(" ", ".").replace("'", "")
    for a, b in (("é", "e"), ("í", "i"), ("á", "a")):
        local = local.replace(a, b)
    return f"{local}@{domain}"


def seed_demo(store: Store, *, cases: int, seed: int = 1,
              progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
    """Generate and store demo data; returns counts. Rebuilds projections once at the end."""
    g = _Gen(seed, store.device_id)
    now = int(time.time() * 1000)
    start = now - 180 * 86_400_000
    agent_ids = _teams_and_agents(g, start)
    orgs = _organizations(g, start, cases)
    customers = _customers(g, start, cases, orgs)
    counters = {t[0]: 0 for t in TEAMS}
    n_comments = 0
    for i in range(cases):
        created = start + int((now - start - 3_600_000) * (i / max(1, cases)))
        n_comments += _demo_case(g, created, now, counters, customers, agent_ids)
        if progress and i % 5000 == 0:
            progress("generating", i, cases)
    if progress:
        progress("writing", cases, cases)
    store.clock.observe(g.events[-1].hlc if g.events else store.clock.last)
    store.bulk_load(g.events)
    me = agent_ids[0][0]
    store.set_actor(me)
    store.set_meta("default_team", "support")
    store.set_meta("demo", "1")
    return {"cases": cases, "comments": n_comments, "events": len(g.events),
            "customers": len(customers), "organizations": len(orgs), "agents": len(agent_ids)}


_SYSTEM = "system@smart-support.example"
_PREFIXES = {t[0]: t[2] for t in TEAMS}
_Customer = tuple[str, str, str, str]  # id, name, email, organization id


def _teams_and_agents(g: _Gen, start: int) -> list[tuple[str, str, str]]:
    """The teams and their agents; (email, name, team) of each agent."""
    for team_id, name, prefix in TEAMS:
        members = [_email(a, "support.example") for a, _, t in AGENTS if t == team_id]
        g.add(ev.TEAM_UPSERTED, {"id": team_id, "name": name, "prefix": prefix,
                                 "members": members}, start, _SYSTEM)
    agent_ids: list[tuple[str, str, str]] = []
    for name, role, team in AGENTS:
        email = _email(name, "support.example")
        agent_ids.append((email, name, team))
        g.add(ev.AGENT_UPSERTED, {"id": email, "name": name, "email": email, "role": role},
              start, _SYSTEM)
    return agent_ids


def _organizations(g: _Gen, start: int, cases: int) -> list[tuple[str, str]]:
    """(id, domain) of each organisation, one per 50 cases (5 to 400)."""
    orgs = []
    for i in range(max(5, min(400, cases // 50))):
        name = f"{ORG_WORDS[i % len(ORG_WORDS)]} {ORG_SUFFIX[(i // len(ORG_WORDS)) % 10]}"
        if i >= len(ORG_WORDS) * 10:
            name += f" {i}"
        domain = name.lower().replace(" ", "-") + ".example"
        org_id = uuid7()
        orgs.append((org_id, domain))
        g.add(ev.ORGANIZATION_UPSERTED, {"id": org_id, "name": name, "domain": domain},
              start, _SYSTEM)
    return orgs


def _customers(g: _Gen, start: int, cases: int,
               orgs: list[tuple[str, str]]) -> list[_Customer]:
    """One customer per 8 cases (10 to 8000), each in one of ``orgs``."""
    r = g.r
    customers = []
    for _ in range(max(10, min(8000, cases // 8))):
        org_id, domain = r.choice(orgs)
        name = f"{r.choice(FIRST)} {r.choice(LAST)}"
        cust_id = uuid7()
        email = _email(name, domain)
        customers.append((cust_id, name, email, org_id))
        phone = f"+1 555 {r.randint(100, 999)} {r.randint(1000, 9999)}"
        g.add(ev.CUSTOMER_UPSERTED, {"id": cust_id, "name": name, "email": email,
                                     "organization_id": org_id, "phone": phone}, start, _SYSTEM)
    return customers


def _demo_case(g: _Gen, created: int, now: int, counters: dict[str, int],
               customers: list[_Customer], agent_ids: list[tuple[str, str, str]]) -> int:
    """One case created about ``created``, its conversation and its status; returns how
    many comments it got. (The order of the random draws is the demo data: keep it.)"""
    r = g.r
    team = r.choices([t[0] for t in TEAMS], [6, 2, 2])[0]
    counters[team] += 1
    key = f"{_PREFIXES[team]}-{counters[team]}"
    created += r.randint(0, 60_000)
    cust_id, cust_name, cust_email, org_id = r.choice(customers)
    product = r.choice(PRODUCTS)
    subj_t, desc_t = r.choice(PROBLEMS)
    values = {"p": product, "code": r.randint(1000, 1099), "n": r.randint(2, 40),
              "dept": r.choice(["finance", "sales", "ops", "HR"]),
              "inv": f"INV-2026-{r.randint(1, 9999):04d}", "ver": f"{r.randint(2, 5)}."
              f"{r.randint(0, 12)}.{r.randint(0, 9)}", "order": r.randint(100000, 999999)}
    status = g.pick(STATUS_WEIGHTS)
    team_agents = [a for a in agent_ids if a[2] == team]
    assignee = None if status == "new" or r.random() < 0.1 else r.choice(team_agents)[0]
    fields = {"key": key, "subject": subj_t.format(**values),
              "description": desc_t.format(**values), "status": "new",
              "priority": g.pick(PRIORITY_WEIGHTS),
              "type": r.choice(["question", "incident", "problem", "task"]),
              "requester_id": cust_id, "organization_id": org_id, "assignee_id": assignee,
              "team_id": team, "product": product, "due_at": None}
    tags = sorted(set(r.sample(TAGS, r.randint(0, 3))))
    case_id = uuid7()
    g.add(ev.CASE_CREATED, {"fields": fields, "tags": tags, "created_ms": created},
          created, cust_email, case_id, team)
    agent = assignee or r.choice(team_agents)[0]
    talk = _Talk(case_id, team, agent, cust_email, cust_name.split()[0], values)
    t, n_comments = talk.conversation(g, created, now)
    if status != "new":
        t = min(now - 1000, t + r.randint(60_000, 3_600_000))
        g.add(ev.CASE_UPDATED, {"field": "status", "value": status, "prev": "new"},
              t, agent, case_id, team)
    return n_comments


@dataclass(frozen=True, slots=True)
class _Talk:
    """Who speaks on one demo case."""

    case_id: str
    team: str
    agent: str
    customer_email: str
    first_name: str
    values: dict[str, Any]

    def conversation(self, g: _Gen, t: int, now: int) -> tuple[int, int]:
        """Alternating agent replies (some after an internal note) and customer follow-ups
        until ``now``; the time of the last and how many comments were added."""
        r = g.r
        n_comments = 0
        for j in range(r.randint(2, 6)):
            t += r.randint(600_000, 2 * 86_400_000)
            if t >= now:
                break
            if j % 2 == 0:
                body = r.choice(REPLIES).format(first=self.first_name)
                if r.random() < 0.2:
                    self._comment(g, t, self.agent, r.choice(NOTES).format(**self.values),
                                  internal=True, kind="agent")
                    n_comments += 1
                    t += 60_000
                self._comment(g, t, self.agent, body, internal=False, kind="agent")
            else:
                self._comment(g, t, self.customer_email, r.choice(CUSTOMER_FOLLOWUPS),
                              internal=False, kind="customer")
            n_comments += 1
        return t, n_comments

    def _comment(self, g: _Gen, t: int, actor: str, body: str, *, internal: bool,
                 kind: str) -> None:
        g.add(ev.COMMENT_ADDED, {"body": body, "internal": internal, "author_kind": kind},
              t, actor, self.case_id, self.team)
