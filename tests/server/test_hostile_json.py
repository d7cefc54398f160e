"""Hostile JSON bodies get a 4xx with a JSON answer, never a 500: non-finite numbers, nesting
1,000 and 100,000 deep, lone surrogates, over-long strings, huge integers and non-UTF-8, in every
field of every route that takes a JSON body (these were 500s: the default 422 handler echoed
input it could not serialise)."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync_server.db import make_engine, migrate
from sync_server.main import create_app
from sync_server.services import accounts
from sync_server.settings import Settings
from sync_server.strict_json import (
    JsonLimits,
    StrictJsonError,
    loads,
    nesting_depth,
    safe_errors,
)

from .helpers import PASSWORD, hlc

MARK = "\u2603HOSTILE\u2603"  # stands for the hostile value in the JSON text of a body
ALICE = "alice@example.com"
CASE = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


@dataclass(frozen=True)
class Kind:
    """One hostile value: ``text`` is spliced into the body where a field's value goes."""

    name: str
    text: str
    raw: bytes | None = None  # when the body bytes must be written by hand

    def splice(self, template: str) -> bytes:
        body = template.replace(json.dumps(MARK), self.text)
        return body.encode("utf-8") if self.raw is None else body.encode().replace(
            b"RAW", self.raw)


def _deep(open_: str, close: str, depth: int) -> str:
    inner = "1" if open_ == "[" else '"x"'
    step = "[" if open_ == "[" else '{"a":'
    return step * depth + inner + close * depth


KINDS = [
    Kind("nan", "NaN"), Kind("infinity", "Infinity"), Kind("minus_infinity", "-Infinity"),
    Kind("overflow", "1e999999"), Kind("minus_overflow", "-1e999999"),
    Kind("array_1000_deep", _deep("[", "]", 1000)),
    Kind("array_100000_deep", _deep("[", "]", 100_000)),
    Kind("object_1000_deep", _deep("{", "}", 1000)),
    Kind("object_100000_deep", _deep("{", "}", 100_000)),
    Kind("lone_high_surrogate", '"\\ud800"'), Kind("lone_low_surrogate", '"\\udfff"'),
    Kind("reversed_surrogate_pair", '"\\udc00\\ud800"'),
    Kind("high_surrogate_at_end", '"abc\\udbff"'),
    Kind("surrogate_in_a_key", '{"\\ud800": 1}'),
    Kind("utf8_encoded_surrogate", '"RAW"', raw=b"\xed\xa0\x80"),
    Kind("invalid_utf8", '"RAW"', raw=b"\xff\xfe"),
    Kind("lone_surrogate_in_upper_case_hex", '"x\\uD83D y"'),
    Kind("integer_of_5000_digits", "9" * 5000),
    Kind("string_over_the_limit", json.dumps("x" * 2000)),
]


def _event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a60", "case_id": CASE, "team_id": "t",
        "type": "comment.added", "payload": {"body": "hello", "tags": ["x"]},
        "actor": ALICE, "device_id": "dev-1", "hlc": hlc()}
    base.update(fields)
    return base


# Every route with a JSON body and a valid body for it; each leaf (and one key) is replaced
# in turn by MARK, so every string field gets every hostile kind.
ROUTES: dict[str, dict[str, Any]] = {
    "/api/v1/auth/login": {"email": ALICE, "password": PASSWORD, "device_token": "abc.1.x"},
    "/api/v1/auth/refresh": {"refresh_token": "not-a-real-token"},
    "/api/v1/auth/logout": {"refresh_token": "not-a-real-token"},
    "/api/v1/presence": {"case_id": CASE, "state": "viewing"},
    "/api/v1/events/push": {"events": [_event()]},
}


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))
    else:
        yield path


def _with_mark(body: dict[str, Any], path: tuple[Any, ...]) -> str:
    marked = copy.deepcopy(body)
    holder: Any = marked
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = MARK
    return json.dumps(marked)


CASES = [(route, ".".join(map(str, path)), _with_mark(body, path))
         for route, body in ROUTES.items() for path in _paths(body)]
CASES.append(("/api/v1/events/push", "events.0.payload.<key>",
              json.dumps({"events": [_event(payload={"body": "x"})]}).replace(
                  '{"body": "x"}', '{' + json.dumps(MARK) + ': "x"}')))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    tmp: Path = tmp_path_factory.mktemp("hostile")
    cfg = Settings(db_url=f"sqlite:///{tmp / 'srv.sqlite3'}", data_dir=tmp / "srv",
                   secret="h" * 48, login_max_failures=1_000_000,
                   login_address_max_failures=1_000_000, login_account_max_failures=1_000_000,
                   json_max_string_chars=1000)
    engine = make_engine(cfg.db_url)
    migrate(engine)
    accounts.add_team(engine, name="Support", prefix="SUP")
    accounts.add_user(engine, email=ALICE, name="Alice", role="agent", password=PASSWORD)
    accounts.add_member(engine, team="Support", email=ALICE)
    with TestClient(create_app(cfg, engine=engine, run_migrations=False)) as client:
        tokens = client.post("/api/v1/auth/login",
                             json={"email": ALICE, "password": PASSWORD}).json()
        yield client, str(tokens["access_token"])
    engine.dispose()


def _strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in a response")

    return json.loads(text, parse_constant=refuse)


def test_the_valid_bodies_are_accepted(api: tuple[TestClient, str]) -> None:
    """The templates themselves pass parsing, so a 4xx below is the hostile value's doing."""
    client, token = api
    for route, body in ROUTES.items():
        response = client.post(route, json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in {200, 401, 404}, (route, response.text)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
@pytest.mark.parametrize(("route", "field", "template"), CASES,
                         ids=[f"{r.rsplit('/', 1)[1]}:{f}" for r, f, _ in CASES])
def test_hostile_value_is_a_4xx_with_a_json_answer(
        api: tuple[TestClient, str], kind: Kind, route: str, field: str, template: str) -> None:
    client, token = api
    response = client.post(route, content=kind.splice(template), headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status_code in {400, 422}, (response.status_code, response.text[:300])
    detail = _strict_json(response.text)["detail"]
    assert detail
    response.text.encode("utf-8")  # no lone surrogate in the answer either


def test_a_body_without_json_content_type_is_a_422_not_a_500(
        api: tuple[TestClient, str]) -> None:
    client, _ = api
    for body in (b"\xff\xfe\xed\xa0\x80", b'{"email": NaN}', b"[" * 5000):
        response = client.post("/api/v1/auth/login", content=body)
        assert response.status_code == 422, response.text[:300]
        _strict_json(response.text)


def test_the_validation_handler_never_echoes_what_json_cannot_hold() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    errors = [{"type": "x", "loc": ("body", "a"), "msg": "bad", "input": value,
               "ctx": {"error": ValueError("no")}}
              for value in (math.nan, math.inf, "\ud800", b"\xff", deep, "x" * 10_000)]
    safe = safe_errors(errors)
    text = json.dumps(safe, allow_nan=False)  # would raise on any of the inputs above
    text.encode("utf-8")
    assert all(isinstance(error["input"], str) and "not shown" in error["input"]
               for error in safe)
    assert safe_errors([{"loc": ["body"], "input": {"email": "a@b"}}])[0]["input"] == {
        "email": "a@b"}


@pytest.mark.parametrize(("text", "depth"), [
    (b"{}", 1), (b'[[1], {"a": [2]}]', 3), (b'"[[[[["', 0), (b'["\\\\", [[]]]', 3),
    (b'["\\"[[[", {}]', 2), (b'{"a\\\\\\"[": "]]]"}', 1), (b"", 0),
])
def test_nesting_depth_ignores_brackets_in_strings(text: bytes, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_strict_loads_accepts_ordinary_json() -> None:
    text = json.dumps({"emoji": "\U0001f600", "n": [1.5, -0.0, 1e308, -(2**63), 10**400],
                       "deep": [[[[]]]], "empty": "", "escaped": "a\\\"b"})
    assert loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_strict_loads_refuses_each_kind(kind: Kind) -> None:
    with pytest.raises(StrictJsonError):
        loads(kind.splice(json.dumps([MARK])), JsonLimits(max_string_chars=1000))


def test_a_refused_body_leaves_the_server_working(api: tuple[TestClient, str]) -> None:
    client, _ = api
    bad = client.post("/api/v1/auth/login", content=b'{"email": NaN}',
                      headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    ok = client.post("/api/v1/auth/login", json={"email": ALICE, "password": PASSWORD})
    assert ok.status_code == 200
