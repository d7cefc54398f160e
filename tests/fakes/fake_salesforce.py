"""A fake Salesforce org as a real HTTP server on loopback.

It follows the documented shapes of the REST API: the OAuth 2.0 client credentials token
endpoint (``/services/oauth2/token``), SOQL queries (``/services/data/vXX.X/query?q=``, with
SOQL's own string-literal escapes: a query it cannot parse is ``MALFORMED_QUERY``), sObject
rows by Id and by external id (upsert: 201 created, 200 updated, 300 with the matching
records' URLs when several carry the value), CaseComment, the ``Sforce-Limit-Info`` header
and ``REQUEST_LIMIT_EXCEEDED``, 401 ``INVALID_SESSION_ID`` for an expired token, and error
bodies ``[{"message", "errorCode", "fields"}]``. A restricted Status/Priority picklist and
validation rules refuse a named field. Faults are injected per request as in fake_jira: a
status with its body and headers, a slow answer, a dropped connection, a write applied but
its answer lost.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

VERSION = "v60.0"
STATUSES = ("New", "Working", "Escalated", "Closed")
PRIORITIES = ("High", "Medium", "Low")
PREFIX = {"Case": "500", "Contact": "003", "Account": "001", "Opportunity": "006",
          "CaseComment": "00a"}
SCHEMA = {  # the fields of each object (a test may add custom ones: FakeSalesforce.schema)
    "Case": {"Id", "CaseNumber", "Subject", "Description", "Status", "Priority", "IsClosed",
             "OwnerId", "LastModifiedDate", "CreatedDate", "Origin", "SuppliedEmail"},
    "Contact": {"Id", "Name", "Email", "Title", "Phone", "AccountId", "OwnerId",
                "LastModifiedDate", "CreatedDate"},
    "Account": {"Id", "Name", "Type", "Industry", "OwnerId", "LastModifiedDate", "CreatedDate"},
    "Opportunity": {"Id", "Name", "StageName", "Amount", "AccountId", "IsClosed", "CloseDate",
                    "LastModifiedDate", "CreatedDate"},
    "CaseComment": {"Id", "ParentId", "CommentBody", "IsPublished", "CreatedDate",
                    "LastModifiedDate"},
}
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'",
            "\\": "\\", "_": "\\_", "%": "\\%"}
_SOBJECT = re.compile(rf"/services/data/{re.escape(VERSION)}/sobjects/(\w+)(?:/(\w+))?"
                      r"(?:/([^/]+))?$")


def sf_error(code: str, message: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    return [{"message": message, "errorCode": code, "fields": fields or []}]


@dataclass
class Fault:
    method: str
    path: str  # a regular expression, searched in the path
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False
    lose_response: bool = False
    times: int = 1


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


class SoqlError(ValueError):
    pass


def _tokens(soql: str) -> list[str]:
    """SOQL split into words, symbols and string literals (kept with their quotes,
    unescaped inside)."""
    out: list[str] = []
    i = 0
    while i < len(soql):
        char = soql[i]
        if char.isspace():
            i += 1
        elif char == "'":
            text, i = [], i + 1
            while True:
                if i >= len(soql):
                    raise SoqlError("unterminated string literal")
                if soql[i] == "\\":
                    if i + 1 >= len(soql) or soql[i + 1] not in _ESCAPES:
                        raise SoqlError(f"invalid escape sequence at {i}")
                    text.append(_ESCAPES[soql[i + 1]])
                    i += 2
                elif soql[i] == "'":
                    i += 1
                    break
                else:
                    text.append(soql[i])
                    i += 1
            out.append("'" + "".join(text))
        elif char in ",=()":
            out.append(char)
            i += 1
        elif char == "!" and soql[i:i + 2] == "!=":
            out.append("!=")
            i += 2
        else:
            start = i
            while i < len(soql) and not soql[i].isspace() and soql[i] not in ",=()'!":
                i += 1
            if start == i:
                raise SoqlError(f"unexpected {char!r}")
            out.append(soql[start:i])
    return out


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: list[tuple[str, str, Any]]  # (field, op, value)
    order: tuple[str, bool] | None  # (field, descending)
    limit: int | None


def parse_soql(soql: str) -> Query:
    """The small part of SOQL the adapter writes: SELECT fields FROM object [WHERE f = v
    [AND ...]] [ORDER BY f [ASC|DESC]] [LIMIT n]. Anything else is a MALFORMED_QUERY."""
    words = _tokens(soql)
    pos = 0

    def take(expected: str | None = None) -> str:
        nonlocal pos
        if pos >= len(words):
            raise SoqlError("unexpected end of query")
        word = words[pos]
        if expected is not None and word.upper() != expected:
            raise SoqlError(f"expected {expected}, found {word!r}")
        pos += 1
        return word

    take("SELECT")
    fields = [take()]
    while pos < len(words) and words[pos] == ",":
        take(",")
        fields.append(take())
    take("FROM")
    sobject = take()
    where: list[tuple[str, str, Any]] = []
    order: tuple[str, bool] | None = None
    limit: int | None = None
    if pos < len(words) and words[pos].upper() == "WHERE":
        take()
        while True:
            name, op, raw = take(), take(), take()
            if op not in ("=", "!="):
                raise SoqlError(f"unsupported operator {op!r}")
            if raw.startswith("'"):
                value: Any = raw[1:]
            elif raw.lower() in ("true", "false"):
                value = raw.lower() == "true"
            elif raw.lower() == "null":
                value = None
            else:
                raise SoqlError(f"unexpected token {raw!r}")
            where.append((name, op, value))
            if pos < len(words) and words[pos].upper() == "AND":
                take()
                continue
            break
    if pos < len(words) and words[pos].upper() == "ORDER":
        take()
        take("BY")
        name = take()
        descending = False
        if pos < len(words) and words[pos].upper() in ("ASC", "DESC"):
            descending = take().upper() == "DESC"
        order = (name, descending)
    if pos < len(words) and words[pos].upper() == "LIMIT":
        take()
        limit = int(take())
    if pos != len(words):
        raise SoqlError(f"unexpected token {words[pos]!r}")
    for name in fields + [w[0] for w in where]:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?", name):
            raise SoqlError(f"bad field {name!r}")
    return Query(fields, sobject, where, order, limit)


def sf_time(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(at or time.time()))


class FakeSalesforce:
    """State and faults of one fake org; ``with FakeSalesforce() as sf:`` serves it."""

    def __init__(self, *, client_id: str = "3MVG9-fake-client",
                 client_secret: str = "sf-secret-" + "k" * 30,
                 external_id_field: str = "Support_Case_Id__c", api_limit: int = 15_000,
                 update_status: int = 200) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.external_id_field = external_id_field
        self.api_limit, self.api_used = api_limit, 0
        self.update_status = update_status  # 200 (API 46+) or 204 for an upsert update
        self.records: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in PREFIX}
        self.schema = {k: set(v) for k, v in SCHEMA.items()}
        self.schema["Case"].add(external_id_field)
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.rules: dict[str, Callable[[dict[str, Any]], str | None]] = {}  # field -> message
        self.hidden_objects: set[str] = set()  # objects the integration user may not query
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self._numbers = 1000
        self._ids = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def __enter__(self) -> FakeSalesforce:
        fake = self

        class Handler(_Handler):
            org = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # --- test controls ----------------------------------------------------------------------
    def inject(self, method: str, path: str, **kwargs: Any) -> Fault:
        fault = Fault(method=method.upper(), path=path, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def add(self, sobject: str, **values: Any) -> dict[str, Any]:
        with self.lock:
            return self._insert(sobject, values)

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def requests(self, method: str, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.method == method and re.search(path, s.path)]

    def cases(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.records["Case"].values()]

    def comments(self, parent: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.records["CaseComment"].values()
                    if r["ParentId"] == parent]

    # --- the org ------------------------------------------------------------------------
    def _insert(self, sobject: str, values: dict[str, Any]) -> dict[str, Any]:
        self._ids += 1  # Salesforce never gives an Id twice, also after a delete
        record = {"Id": f"{PREFIX[sobject]}5g00000{self._ids:08d}AAA", **values,
                  "LastModifiedDate": sf_time(), "CreatedDate": sf_time()}
        if sobject == "Case":
            self._numbers += 1
            record.setdefault("CaseNumber", f"0000{self._numbers}")
            record.setdefault("Status", "New")
            record.setdefault("Priority", "Medium")
            record.setdefault("OwnerId", "005000000000001AAA")
            record["IsClosed"] = record["Status"] == "Closed"
        self.records[sobject][record["Id"]] = record
        return record

    def _resolve(self, record: dict[str, Any], name: str) -> Any:
        if "." not in name:
            return record.get(name)
        relation, inner = name.split(".", 1)
        if relation in self.records:
            target = self.records[relation].get(str(record.get(relation + "Id")))
            return target.get(inner) if target else None
        nested = record.get(relation)
        return nested.get(inner) if isinstance(nested, dict) else None

    def _render(self, sobject: str, record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {
            "type": sobject, "url": f"/services/data/{VERSION}/sobjects/{sobject}/{record['Id']}"}}
        for name in fields:
            if "." in name:
                relation, inner = name.split(".", 1)
                value = self._resolve(record, name)
                holder = out.setdefault(relation, {"attributes": {"type": relation}})
                if isinstance(holder, dict):
                    holder[inner] = value
            else:
                out[name] = record.get(name)
        return out

    def _query(self, soql: str) -> tuple[int, Any]:
        try:
            query = parse_soql(soql)
        except (SoqlError, ValueError) as exc:
            return 400, sf_error("MALFORMED_QUERY", str(exc))
        if query.sobject not in self.records or query.sobject in self.hidden_objects:
            return 400, sf_error("INVALID_TYPE", f"sObject type '{query.sobject}' is not "
                                 "supported.")
        rows = list(self.records[query.sobject].values())
        known = self.schema[query.sobject]
        for name in query.fields + [w[0] for w in query.where]:
            if "." not in name and name not in known:
                return 400, sf_error("INVALID_FIELD", f"No such column '{name}' on entity "
                                     f"'{query.sobject}'.")

        def matches(record: dict[str, Any]) -> bool:
            for name, op, value in query.where:
                have = self._resolve(record, name)
                if isinstance(have, str) and isinstance(value, str) and name.endswith("Email"):
                    equal = have.lower() == value.lower()  # e-mail fields ignore case
                else:
                    equal = have == value
                if equal != (op == "="):
                    return False
            return True

        found = [r for r in rows if matches(r)]
        if query.order is not None:
            name, descending = query.order
            found.sort(key=lambda r: str(self._resolve(r, name) or ""), reverse=descending)
        if query.limit is not None:
            found = found[:query.limit]
        return 200, {"totalSize": len(found), "done": True,
                     "records": [self._render(query.sobject, r, query.fields) for r in found]}

    def _by_external(self, value: str) -> list[dict[str, Any]]:
        return [r for r in self.records["Case"].values()
                if r.get(self.external_id_field) == value]

    def _refusal(self, values: dict[str, Any]) -> tuple[int, Any] | None:
        for name, allowed in (("Status", STATUSES), ("Priority", PRIORITIES)):
            if name in values and values[name] not in allowed:
                return 400, sf_error("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                     f"{name}: bad value for restricted picklist field: "
                                     f"{values[name]}", [name])
        for name, rule in self.rules.items():
            if name in values:
                message = rule(values)
                if message:
                    return 400, sf_error("FIELD_CUSTOM_VALIDATION_EXCEPTION", message, [name])
        unknown = [k for k in values if k not in (
            "Subject", "Description", "Status", "Priority", "Origin", "SuppliedEmail",
            "ParentId", "CommentBody", "IsPublished")]
        if unknown:
            return 400, sf_error("INVALID_FIELD", f"No such column '{unknown[0]}' on sobject",
                                 unknown[:1])
        return None

    def _upsert(self, value: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, sf_error("JSON_PARSER_ERROR", "the body is not a JSON object")
        if self.external_id_field in body:
            return 400, sf_error("INVALID_FIELD", "the external id is in the URL", [
                self.external_id_field])
        found = self._by_external(value)
        if len(found) > 1:
            return 300, [f"/services/data/{VERSION}/sobjects/Case/{r['Id']}" for r in found]
        refused = self._refusal(body)
        if refused is not None:
            return refused
        if found:
            record = found[0]
            record.update(body)
            record["IsClosed"] = record["Status"] == "Closed"
            record["LastModifiedDate"] = sf_time()
            answer = {"id": record["Id"], "success": True, "errors": [], "created": False}
            return (200, answer) if self.update_status == 200 else (204, None)
        record = self._insert("Case", {**body, self.external_id_field: value})
        return 201, {"id": record["Id"], "success": True, "errors": [], "created": True}

    def _sobject(self, method: str, sobject: str, key: str | None, value: str | None,
                 query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if sobject not in self.records:
            return 404, sf_error("NOT_FOUND", "The requested resource does not exist")
        fields = (query.get("fields") or [""])[0].split(",") if query.get("fields") else None
        if key is not None and value is not None:  # by external id
            if key != self.external_id_field or sobject != "Case":
                return 404, sf_error("NOT_FOUND", f"Provided external ID field does not exist "
                                     f"or is not accessible: {key}")
            value = unquote(value)
            if method == "PATCH":
                return self._upsert(value, body)
            found = self._by_external(value)
            if len(found) > 1:
                return 300, [f"/services/data/{VERSION}/sobjects/Case/{r['Id']}" for r in found]
            if not found:
                return 404, sf_error("NOT_FOUND", "The requested resource does not exist")
            return 200, self._render("Case", found[0], fields or list(found[0]))
        if key is not None and method == "GET":  # by Id
            record = self.records[sobject].get(key)
            if record is None:
                return 404, sf_error("NOT_FOUND", "The requested resource does not exist")
            return 200, self._render(sobject, record, fields or list(record))
        if key is None and method == "POST":
            if not isinstance(body, dict):
                return 400, sf_error("JSON_PARSER_ERROR", "the body is not a JSON object")
            refused = self._refusal(body)
            if refused is not None:
                return refused
            if sobject == "CaseComment":
                if body.get("ParentId") not in self.records["Case"]:
                    return 400, sf_error("FIELD_INTEGRITY_EXCEPTION",
                                         "Parent ID: id value of incorrect type", ["ParentId"])
                if len(str(body.get("CommentBody") or "")) > 4000:
                    return 400, sf_error("STRING_TOO_LONG", "Body: data value too large",
                                         ["CommentBody"])
            record = self._insert(sobject, body)
            return 201, {"id": record["Id"], "success": True, "errors": []}
        return 405, sf_error("METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed.")

    def handle(self, method: str, path: str, query: dict[str, list[str]],
               body: Any) -> tuple[int, Any]:
        if path == f"/services/data/{VERSION}/query" and method == "GET":
            return self._query((query.get("q") or [""])[0])
        found = _SOBJECT.fullmatch(path)
        if found is not None:
            return self._sobject(method, found.group(1), found.group(2), found.group(3),
                                 query, body)
        return 404, sf_error("NOT_FOUND", "The requested resource does not exist")

    def token(self, form: dict[str, list[str]]) -> tuple[int, Any]:
        def one(name: str) -> str:
            return (form.get(name) or [""])[0]

        if one("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description":
                         "grant type not supported"}
        if (one("client_id"), one("client_secret")) != (self.client_id, self.client_secret):
            return 400, {"error": "invalid_client", "error_description":
                         "invalid client credentials"}
        value = "00Dfake!" + secrets.token_urlsafe(24)
        self.tokens.add(value)
        self.tokens_issued += 1
        return 200, {"access_token": value, "instance_url": self.url, "token_type": "Bearer",
                     "issued_at": str(int(time.time() * 1000)), "signature": "sig"}

    def _fault_for(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and re.search(fault.path, path):
                fault.times -= 1
                return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    org: FakeSalesforce
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        org = self.org
        query = parse_qs(parts.query)
        if parts.path == "/services/oauth2/token" and method == "POST":
            with org.lock:
                org.seen.append(Seen(method, parts.path, {}, None))
                fault = org._fault_for(method, parts.path)
            if fault is not None and fault.status is not None:
                self._answer(fault.status, fault.body, fault.headers)
                return
            with org.lock:
                status, answer = org.token(parse_qs(raw.decode()))
            self._answer(status, answer, {})
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with org.lock:
            org.seen.append(Seen(method, parts.path, query, body))
            fault = org._fault_for(method, parts.path)
        if fault is not None and fault.delay_s:
            time.sleep(fault.delay_s)
        if fault is not None and fault.drop:
            self._drop()
            return
        if fault is not None and fault.status is not None:
            self._answer(fault.status, fault.body, fault.headers)
            return
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        with org.lock:
            valid = token in org.tokens
            if valid:
                org.api_used += 1
            used, limit = org.api_used, org.api_limit
        if not valid:
            self._answer(401, sf_error("INVALID_SESSION_ID", "Session expired or invalid"), {})
            return
        limits = {"Sforce-Limit-Info": f"api-usage={used}/{limit}"}
        if used > limit:
            self._answer(403, sf_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit "
                                       "exceeded."), limits)
            return
        with org.lock:
            status, answer = org.handle(method, parts.path, query, body)
        if fault is not None and fault.lose_response:
            self._drop()
            return
        self._answer(status, answer, {**limits, **(fault.headers if fault else {})})

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _answer(self, status: int, body: Any, headers: dict[str, str]) -> None:
        data = b"" if body is None else (body if isinstance(body, bytes)
                                         else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")
