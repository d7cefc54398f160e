"""A fake JIRA (Cloud REST v3 or Data Center v2) as a real HTTP server on loopback.

It follows the documented shapes: ``serverInfo``, issue create/get, comments, JQL search
(``/rest/api/3/search/jql`` and ``/rest/api/2/search``, lagging behind writes like JIRA's
index), and the ``{"errorMessages": [...], "errors": {...}}`` error bodies. Faults are injected
per request: a status with its body and headers (401, 429 + Retry-After, 500, 503), a slow
answer, a dropped connection, and a write that is applied but whose answer is lost.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

Deployment = Literal["cloud", "datacenter"]
CATEGORIES = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}
NOT_FOUND = "Issue does not exist or you do not have permission to see it."
_LABEL_JQL = re.compile(r'\s*labels\s*=\s*(?:"([^"]*)"|([A-Za-z0-9_.-]+))\s*')
_ISSUE = re.compile(r"/rest/api/(2|3)/issue/([^/]+)(/comment)?")


@dataclass
class Fault:
    """What the next matching request gets instead of (or besides) its normal answer."""

    method: str
    path: str  # a regular expression, searched in the path
    status: int | None = None  # answer this instead, nothing applied
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait this long first
    drop: bool = False  # close the connection without an answer, nothing applied
    lose_response: bool = False  # apply the request, then close without an answer
    times: int = 1


@dataclass
class Issue:
    id: str
    key: str
    project: str
    issue_type: str
    summary: str
    description: Any
    labels: list[str]
    status: str = "To Do"
    category: str = "new"
    assignee: str | None = None
    updated: str = ""
    created_at: float = 0.0  # monotonic, for the search lag
    comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def jira_time(at: float | None = None) -> str:
    """A time as JIRA writes it: 2026-12-02T00:31:30.000+0000."""
    moment = time.gmtime(at if at is not None else time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", moment)


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature`` JIRA sends with a webhook that has a secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FakeJira:
    """State and faults of one fake JIRA site; ``with FakeJira(...) as jira:`` serves it."""

    def __init__(self, *, deployment: Deployment = "cloud", user: str = "bot@example.com",
                 token: str = "jira-token-" + "s3cr3t" * 4, search_lag_s: float = 0.0,
                 projects: dict[str, list[str]] | None = None) -> None:
        self.deployment = deployment
        self.user, self.token = user, token
        self.search_lag_s = search_lag_s
        self.projects = projects or {"ENG": ["Task", "Bug"], "OPS": ["Task"]}
        self.issues: dict[str, Issue] = {}  # by id
        self.old_keys: dict[str, str] = {}  # a moved issue's earlier key -> id
        self.hidden: set[str] = set()  # ids the integration user may not see
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self._next_id = 10000
        self._numbers: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # --- serving ------------------------------------------------------------------------
    def __enter__(self) -> FakeJira:
        fake = self

        class Handler(_Handler):
            jira = fake

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

    # --- test controls ------------------------------------------------------------------
    def inject(self, method: str, path: str, **kwargs: Any) -> Fault:
        fault = Fault(method=method.upper(), path=path, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def add_issue(self, project: str = "ENG", summary: str = "existing issue",
                  labels: list[str] | None = None) -> Issue:
        with self.lock:
            return self._create(project, "Task", summary, None, labels or [])

    def by_key(self, key: str) -> Issue:
        with self.lock:
            found = self._find(key)
        assert found is not None, key
        return found

    def transition(self, key: str, status: str, category: str,
                   assignee: str | None = None) -> Issue:
        with self.lock:
            issue = self._find(key)
            assert issue is not None, key
            issue.status, issue.category = status, category
            if assignee is not None:
                issue.assignee = assignee
            issue.updated = jira_time(time.time() + 1)  # a later second than the create
            return issue

    def move(self, key: str, project: str) -> Issue:
        """Move an issue to another project: a new key, the same id."""
        with self.lock:
            issue = self._find(key)
            assert issue is not None, key
            self.old_keys[issue.key] = issue.id
            issue.project, issue.key = project, self._new_key(project)
            return issue

    def requests(self, method: str, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.method == method and re.search(path, s.path)]

    def rendered(self, issue: Issue) -> dict[str, Any]:
        """The issue as GET /issue answers it."""
        with self.lock:
            return self._render(issue, "3" if self.deployment == "cloud" else "2")

    def comment_as(self, key: str, body: Any, author: str) -> dict[str, Any]:
        """Someone in JIRA comments on the issue."""
        with self.lock:
            issue = self._find(key)
            assert issue is not None, key
            comment = {"id": str(30000 + len(issue.comments)), "body": body,
                       "author": {"displayName": author}, "created": jira_time(),
                       "properties": []}
            issue.comments.append(comment)
            return comment

    def webhook(self, issue: Issue, event: str = "jira:issue_updated") -> dict[str, Any]:
        """A webhook body as JIRA sends it for ``issue`` (its fields hold no comments; a
        comment event carries the comment beside the issue)."""
        with self.lock:
            rendered = self._render(issue, "3" if self.deployment == "cloud" else "2")
            rendered["fields"].pop("comment")
            body: dict[str, Any] = {
                "timestamp": int(time.time() * 1000), "webhookEvent": event,
                "issue_event_type_name": "issue_generic", "issue": rendered,
                "changelog": {"items": [{"field": "status", "toString": issue.status}]}}
            if event.startswith("comment_") and issue.comments:
                body["comment"] = {k: v for k, v in issue.comments[-1].items()
                                   if k != "properties"}
            return body

    # --- the model (call with the lock held) -------------------------------------------
    def _new_key(self, project: str) -> str:
        number = self._numbers.get(project, 0) + 1
        self._numbers[project] = number
        return f"{project}-{number}"

    def _create(self, project: str, issue_type: str, summary: str, description: Any,
                labels: list[str]) -> Issue:
        self._next_id += 1
        now = time.time()
        issue = Issue(id=str(self._next_id), key=self._new_key(project), project=project,
                      issue_type=issue_type, summary=summary, description=description,
                      labels=list(labels), updated=jira_time(now), created_at=time.monotonic())
        self.issues[issue.id] = issue
        return issue

    def _find(self, id_or_key: str) -> Issue | None:
        if id_or_key in self.issues:
            return self.issues[id_or_key]
        for issue in self.issues.values():
            if issue.key == id_or_key:
                return issue
        moved = self.old_keys.get(id_or_key)
        return self.issues.get(moved) if moved else None

    def _render(self, issue: Issue, api: str) -> dict[str, Any]:
        return {
            "id": issue.id, "key": issue.key,
            "self": f"{self.url}/rest/api/{api}/issue/{issue.id}",
            "fields": {
                "summary": issue.summary, "description": issue.description,
                "labels": list(issue.labels),
                "project": {"key": issue.project}, "issuetype": {"name": issue.issue_type},
                "status": {"name": issue.status, "statusCategory": {
                    "key": issue.category, "name": CATEGORIES.get(issue.category, "?")}},
                "assignee": ({"displayName": issue.assignee, "accountId": "acc-1"}
                             if issue.assignee else None),
                "updated": issue.updated,
                "comment": {"startAt": 0, "maxResults": 5000, "total": len(issue.comments),
                            "comments": [{k: v for k, v in c.items() if k != "properties"}
                                         for c in issue.comments]},
            },
        }

    def _authorized(self, header: str) -> bool:
        if self.deployment == "cloud":
            expected = base64.b64encode(f"{self.user}:{self.token}".encode()).decode()
            return hmac.compare_digest(header, f"Basic {expected}")
        return hmac.compare_digest(header, f"Bearer {self.token}")

    def _fault_for(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and re.search(fault.path, path) and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def handle(self, method: str, path: str, query: dict[str, list[str]],
               body: Any) -> tuple[int, Any]:
        """The answer to one authorized request (the lock is held)."""
        api = path.split("/")[3] if path.startswith("/rest/api/") else ""
        if self.deployment == "datacenter" and api == "3":
            return 404, {"errorMessages": ["null for uri: " + path], "errors": {}}
        if path.endswith("/serverInfo") and method == "GET":
            cloud = self.deployment == "cloud"
            return 200, {"baseUrl": self.url, "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.2",
                         "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 2],
                         "deploymentType": "Cloud" if cloud else "Server",
                         "buildNumber": 100, "serverTitle": "Fake JIRA"}
        if path == f"/rest/api/{api}/issue" and method == "POST":
            return self._post_issue(api, body)
        if path in ("/rest/api/3/search/jql", "/rest/api/2/search") and method in ("GET", "POST"):
            jql = (body or {}).get("jql") if method == "POST" else (query.get("jql") or [""])[0]
            return self._search(api, str(jql or ""))
        match = _ISSUE.fullmatch(path)
        if match:
            issue = self._find(match.group(2))
            if issue is None or issue.id in self.hidden:
                return 404, {"errorMessages": [NOT_FOUND], "errors": {}}
            if match.group(3) and method == "POST":
                return self._post_comment(api, issue, body)
            if match.group(3) and method == "GET":
                expand = "properties" in (query.get("expand") or [""])[0]
                shown = [c if expand else {k: v for k, v in c.items() if k != "properties"}
                         for c in issue.comments]
                return 200, {"startAt": 0, "maxResults": 5000, "total": len(shown),
                             "comments": shown}
            if not match.group(3) and method == "GET":
                return 200, self._render(issue, api)
        return 404, {"errorMessages": [f"no route for {method} {path}"], "errors": {}}

    def _check_text(self, api: str, value: Any, name: str) -> str | None:
        if api == "3":
            if not (isinstance(value, dict) and value.get("type") == "doc"
                    and value.get("version") == 1 and isinstance(value.get("content"), list)):
                return f"Operation value must be an Atlassian Document (see the {name} field)"
        elif not isinstance(value, str):
            return f"Operation value must be a string (see the {name} field)"
        return None

    def _post_issue(self, api: str, body: Any) -> tuple[int, Any]:
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return 400, {"errorMessages": ["Can not deserialize the request"], "errors": {}}
        errors: dict[str, str] = {}
        project = (fields.get("project") or {}).get("key")
        issue_type = (fields.get("issuetype") or {}).get("name")
        if project not in self.projects:
            errors["project"] = "Specify a valid project ID or key"
        elif issue_type not in self.projects[project]:
            errors["issuetype"] = "Specify a valid issue type"
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        elif len(str(fields["summary"])) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        if "description" in fields:
            bad = self._check_text(api, fields["description"], "description")
            if bad:
                errors["description"] = bad
        labels = fields.get("labels") or []
        if any(not isinstance(x, str) or " " in x or len(x) > 255 for x in labels):
            errors["labels"] = "The label must not contain spaces."
        if errors:
            return 400, {"errorMessages": [], "errors": errors}
        issue = self._create(str(project), str(issue_type), str(fields["summary"]),
                             fields.get("description"), labels)
        return 201, {"id": issue.id, "key": issue.key,
                     "self": f"{self.url}/rest/api/{api}/issue/{issue.id}"}

    def _post_comment(self, api: str, issue: Issue, body: Any) -> tuple[int, Any]:
        value = body.get("body") if isinstance(body, dict) else None
        bad = self._check_text(api, value, "body")
        if bad or not value:
            return 400, {"errorMessages": [], "errors": {"comment": bad or "Comment body can not be empty!"}}
        comment = {"id": str(20000 + sum(len(i.comments) for i in self.issues.values())),
                   "body": value, "created": jira_time(),
                   "author": {"displayName": "Support Integration"},
                   "properties": list(body.get("properties") or [])}
        issue.comments.append(comment)
        issue.updated = jira_time()
        return 201, comment

    def _search(self, api: str, jql: str) -> tuple[int, Any]:
        match = _LABEL_JQL.fullmatch(jql)
        if not match:
            return 400, {"errorMessages": [f"Error in the JQL Query: {jql!r} is not understood "
                                           "by this fake."], "errors": {}}
        label = match.group(1) if match.group(1) is not None else match.group(2)
        indexed_before = time.monotonic() - self.search_lag_s
        found = [self._render(i, api) for i in self.issues.values()
                 if label in i.labels and i.created_at <= indexed_before
                 and i.id not in self.hidden]
        if api == "3":
            return 200, {"issues": found, "isLast": True}
        return 200, {"startAt": 0, "maxResults": 50, "total": len(found), "issues": found}


class _Handler(BaseHTTPRequestHandler):
    jira: FakeJira
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        jira = self.jira
        with jira.lock:
            jira.seen.append(Seen(method, parts.path, dict(self.headers.items()), body))
            fault = jira._fault_for(method, parts.path)
        if fault is not None and fault.delay_s:
            time.sleep(fault.delay_s)
        if fault is not None and fault.drop:
            self._drop()
            return
        if fault is not None and fault.status is not None:
            self._answer(fault.status, fault.body, fault.headers)
            return
        if not jira._authorized(self.headers.get("Authorization", "")):
            self._answer(401, {"errorMessages": ["You are not authenticated. Authentication "
                                                 "required to perform this operation."],
                               "errors": {}}, {"WWW-Authenticate": "Basic realm=\"JIRA\""})
            return
        with jira.lock:
            status, answer = jira.handle(method, parts.path, parse_qs(parts.query), body)
        if fault is not None and fault.lose_response:
            self._drop()
            return
        self._answer(status, answer, fault.headers if fault is not None else {})

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
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")


@contextmanager
def fake_jira(**kwargs: Any) -> Iterator[FakeJira]:
    with FakeJira(**kwargs) as jira:
        yield jira
