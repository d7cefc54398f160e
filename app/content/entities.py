"""Entities in case text: e-mail addresses, URLs, error codes, versions, orders, invoices."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from app.content.patterns import ERROR_CODE

EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`]+|\bwww\.[A-Za-z0-9-]+\.[^\s<>\"'`]+", re.I)
VERSION = re.compile(
    r"(?<![\w.])(?:v(?P<v>\d+(?:\.\d+){1,3}(?:[-+][\w.]+)?)|(?:version|ver\.?|release|build)\s+(?P<w>\d+(?:\.\d+){0,3}(?:[-+][\w.]+)?))(?![\w.]*\d)",
    re.I,
)
ORDER = re.compile(r"\b(?:ORD|ORDER|PO|SO)-\d{4,}(?:-\d+)?\b|\border\s*(?:no\.?|number|#|nr\.?)\s*:?\s*#?(?P<n>[A-Z0-9-]*\d{3,}[A-Z0-9-]*)", re.I)
INVOICE = re.compile(r"\bINV-\d{2,}(?:-\d+)*\b|\binvoice\s*(?:no\.?|number|#|nr\.?)\s*:?\s*#?(?P<n>[A-Z0-9-]*\d{3,}[A-Z0-9-]*)", re.I)
_TRAILING = ".,;:!?)]}'\""


@dataclass(slots=True)
class Entities:
    emails: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    error_codes: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    invoices: list[str] = field(default_factory=list)

    def merge(self, other: "Entities") -> "Entities":
        return Entities(
            _unique(self.emails + other.emails, str.lower),
            _unique(self.urls + other.urls),
            _unique(self.error_codes + other.error_codes, str.upper),
            _unique(self.versions + other.versions),
            _unique(self.orders + other.orders, str.upper),
            _unique(self.invoices + other.invoices, str.upper),
        )


def _same(value: str) -> str:
    return value


def _unique(values: list[str], fold: Callable[[str], str] = _same) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if (k := fold(value)) not in seen:
            seen.add(k)
            out.append(value)
    return out


def _order_value(match: re.Match[str]) -> str:
    n = match.group("n")
    return ("#" + n) if n else match.group(0).upper()


def extract_entities(text: str) -> Entities:
    """De-duplicated entities in order of first appearance (case-insensitive where it
    makes sense: e-mail addresses, codes, order and invoice numbers)."""
    urls = [m.group(0).rstrip(_TRAILING) for m in URL.finditer(text)]
    emails = [m.group(0) for m in EMAIL.finditer(text)]
    codes = [m.group(0) for m in ERROR_CODE.finditer(text)]
    versions = [m.group("v") or m.group("w") for m in VERSION.finditer(text)]
    orders = [_order_value(m) for m in ORDER.finditer(text)]
    invoices = [_order_value(m) for m in INVOICE.finditer(text)]
    return Entities(
        emails=_unique(emails, str.lower),
        urls=_unique(urls),
        error_codes=_unique(codes, str.upper),
        versions=_unique(versions),
        orders=_unique(orders, str.upper),
        invoices=_unique(invoices, str.upper),
    )
