"""Read models for intake: a case's attachments, error signatures, entities and the cases
that share its signatures. Plain dicts; no Qt.

``signatures`` rows are derived locally from the ``extracted`` rows of a case's live
attachments (``app.operations.attachments`` keeps them current); a row whose
representative attachment is gone is not shown, so a stale row never misleads.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, select

from app.content.entities import Entities, extract_entities
from app.store import schema as s

RELATED_CASES_PER_SIGNATURE = 20
_ENTITY_FIELDS = ("emails", "urls", "error_codes", "versions", "orders", "invoices")


def case_attachments(conn: Connection, case_id: str, *,
                     include_removed: bool = False) -> list[dict[str, Any]]:
    """Attachments of a case (oldest first) with what intake made of each one."""
    a = s.attachments.c
    x = s.extracted.c
    q = (select(a.id, a.sha256, a.name, a.size, a.mime, a.comment_id, a.created_ms, a.author,
                a.removed, x.kind, x.error)
         .select_from(s.attachments.outerjoin(s.extracted, x.sha256 == a.sha256))
         .where(a.case_id == case_id, a.known.is_(True))
         .order_by(a.created_ms, a.id))
    if not include_removed:
        q = q.where(a.removed.is_(False))
    return [dict(r._mapping) for r in conn.execute(q)]


def live_attachment_shas(conn: Connection, case_id: str) -> list[str]:
    a = s.attachments.c
    rows = conn.execute(select(a.sha256).where(a.case_id == case_id, a.removed.is_(False),
                                               a.known.is_(True)).order_by(a.created_ms, a.id))
    return list(dict.fromkeys(r[0] for r in rows))


def extracted_rows(conn: Connection, shas: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    rows = conn.execute(select(s.extracted).where(s.extracted.c.sha256.in_(wanted)))
    return {r.sha256: dict(r._mapping) for r in rows}


def signature_rows_for(conn: Connection, case_id: str,
                       shas: Iterable[str]) -> list[dict[str, Any]]:
    """The ``signatures`` rows a case should have, given the blobs attached to it.

    The same signature in several attachments is counted once per occurrence in each;
    its lines and ``sha256`` are those of the attachment where it occurs most."""
    merged: dict[str, dict[str, Any]] = {}
    best: dict[str, int] = {}
    for sha, row in extracted_rows(conn, shas).items():
        for sig in json.loads(row["signatures"] or "[]"):
            key = str(sig["key"])[:255]
            count = int(sig.get("count", 1))
            entry = merged.get(key)
            if entry is None:
                merged[key] = entry = {"case_id": case_id, "key": key, "kind": sig["kind"],
                                       "title": sig["title"], "count": 0}
            entry["count"] += count
            if count > best.get(key, 0):
                best[key] = count
                entry.update(first_line=sig.get("first_line"), last_line=sig.get("last_line"),
                             sha256=sha)
    return list(merged.values())


def replace_case_signatures(conn: Connection, case_id: str, shas: Iterable[str]) -> int:
    """Recompute the ``signatures`` rows of a case inside the caller's transaction."""
    rows = signature_rows_for(conn, case_id, shas)
    conn.execute(s.signatures.delete().where(s.signatures.c.case_id == case_id))
    if rows:
        conn.execute(s.signatures.insert(), rows)
    return len(rows)


def _live_signatures(case_id: str) -> Any:
    sig = s.signatures.c
    a = s.attachments.c
    live = select(a.id).where(a.case_id == sig.case_id, a.sha256 == sig.sha256,
                              a.removed.is_(False)).exists()
    return and_(sig.case_id == case_id, live)


def case_signatures(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    """Error signatures of a case, most frequent first, with the attachment they come from."""
    sig = s.signatures.c
    rows = conn.execute(select(s.signatures).where(_live_signatures(case_id))
                        .order_by(sig.count.desc(), sig.key))
    out = []
    names: dict[str, str] = {}
    for r in rows:
        d = dict(r._mapping)
        if d["sha256"] and d["sha256"] not in names:
            names[d["sha256"]] = conn.execute(
                select(s.attachments.c.name).where(s.attachments.c.case_id == case_id,
                                                   s.attachments.c.sha256 == d["sha256"])
                .limit(1)).scalar() or ""
        d["attachment"] = names.get(d["sha256"] or "", "")
        out.append(d)
    return out


def related_by_signature(conn: Connection, case_id: str,
                         limit: int = RELATED_CASES_PER_SIGNATURE) -> list[dict[str, Any]]:
    """Per signature of this case: the other (live, unmerged) cases that show it too.

    Each item: ``key, title, kind, total`` (how many other cases), ``products``
    (product -> count), ``summary`` ("3 other cases show ERR-1042 on DataFlow") and
    ``cases`` (up to ``limit``: id, key, subject, status, product, count, linked)."""
    mine = case_signatures(conn, case_id)
    if not mine:
        return []
    sig = s.signatures.c
    c = s.cases.c
    a = s.attachments.c
    live = select(a.id).where(a.case_id == sig.case_id, a.sha256 == sig.sha256,
                              a.removed.is_(False)).exists()
    keys = [m["key"] for m in mine]
    rows = conn.execute(
        select(sig.key, sig.count, c.id, c.key.label("case_key"), c.subject, c.status,
               c.product, c.updated_ms)
        .select_from(s.signatures.join(s.cases, c.id == sig.case_id))
        .where(sig.key.in_(keys), sig.case_id != case_id, live, c.exists.is_(True),
               c.deleted.is_(False), c.merged_into.is_(None))
        .order_by(c.updated_ms.desc(), c.id))
    linked = {r.other_id for r in conn.execute(
        select(s.case_links.c.other_id).where(s.case_links.c.case_id == case_id,
                                              s.case_links.c.present.is_(True)))}
    by_key: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_key.setdefault(r.key, []).append({
            "id": r.id, "key": r.case_key, "subject": r.subject, "status": r.status,
            "product": r.product, "count": r.count, "linked": r.id in linked})
    out = []
    for m in mine:
        others = by_key.get(m["key"], [])
        if not others:
            continue
        products = Counter(o["product"] for o in others if o["product"])
        out.append({"key": m["key"], "title": m["title"], "kind": m["kind"],
                    "total": len(others), "products": dict(products.most_common()),
                    "summary": _summary(len(others), m, products),
                    "cases": others[:limit]})
    out.sort(key=lambda d: (-d["total"], d["key"]))
    return out


def _label(sig: dict[str, Any]) -> str:
    if sig["kind"] == "error_code":
        return str(sig["key"]).removeprefix("error_code:")
    title = str(sig["title"])
    return title if len(title) <= 60 else title[:57] + "…"


def _summary(n: int, sig: dict[str, Any], products: Counter[str]) -> str:
    cases = "other case shows" if n == 1 else "other cases show"
    text = f"{n} {cases} {_label(sig)}"
    ranked = products.most_common()
    if len(ranked) == 1:
        text += f" on {ranked[0][0]}"
    elif 1 < len(ranked) <= 3:
        names = [name for name, _ in ranked]
        text += f" on {', '.join(names[:-1])} and {names[-1]}"
    elif ranked:
        top, top_n = ranked[0]
        text += f" (most on {top})" if top_n > ranked[1][1] else f" on {len(ranked)} products"
    return text


def related_cases(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    """The same, by case: each other case once, with the signatures it shares."""
    found: dict[str, dict[str, Any]] = {}
    for group in related_by_signature(conn, case_id):
        for other in group["cases"]:
            entry = found.setdefault(other["id"], {**other, "shared": [], "count": 0})
            entry["shared"].append(_label(group))
            entry["count"] += other["count"]
    return sorted(found.values(), key=lambda d: (-len(d["shared"]), -d["count"], d["key"] or ""))


def _entities_from_json(text: str | None) -> Entities:
    raw = json.loads(text) if text else {}
    return Entities(**{f: list(raw.get(f) or []) for f in _ENTITY_FIELDS})


def case_entities(conn: Connection, case_id: str) -> dict[str, list[str]]:
    """Entities of a case: its description and comments, then its attachments' extracts."""
    row = conn.execute(select(s.cases.c.subject, s.cases.c.description)
                       .where(s.cases.c.id == case_id)).first()
    if row is None:
        return {f: [] for f in _ENTITY_FIELDS}
    texts = [row.subject or "", row.description or ""]
    texts += [r[0] for r in conn.execute(
        select(s.comments.c.body).where(s.comments.c.case_id == case_id,
                                        s.comments.c.known.is_(True),
                                        s.comments.c.redacted.is_(False))
        .order_by(s.comments.c.created_ms, s.comments.c.id))]
    merged = extract_entities("\n\n".join(texts))
    for extracted in extracted_rows(conn, live_attachment_shas(conn, case_id)).values():
        merged = merged.merge(_entities_from_json(extracted["entities"]))
    return {f: list(getattr(merged, f)) for f in _ENTITY_FIELDS}


def signature_context(data_dir: Path, sha256: str, line: int,
                      radius: int = 5) -> list[tuple[int, str]]:
    """Lines ``line - radius`` .. ``line + radius`` (1-based) of an attached blob, read as
    a stream; ``[]`` when the blob is not on this machine."""
    from app.content.attachments import BlobStore

    try:
        path = BlobStore(Path(data_dir) / "blobs").path_for(sha256)
    except ValueError:
        return []
    if not path.is_file() or line < 1:
        return []
    first, last = max(1, line - radius), line + radius
    out: list[tuple[int, str]] = []
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if number > last:
                break
            if number >= first:
                out.append((number, raw[:2000].decode("utf-8", errors="replace").rstrip("\r\n")))
    return out
