"""The Salesforce adapter's small parts: SOQL literals against hostile e-mails (read back by
the fake org's SOQL tokenizer, which follows SOQL's escapes), the Sforce-Limit-Info back-off,
error bodies as reasons, the settings (config file, environment over it, the mapping), and
the one-owner-per-field plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync_server.integrations.salesforce_mapping import (
    SoqlValueError,
    Usage,
    backoff_s,
    clean_email,
    parse_limit_info,
    plan_sync,
    reason_from,
    soql_quote,
)
from sync_server.jobs.api import CaseView
from sync_server.settings import SalesforceMapping, SettingsError, load_settings
from tests.fakes.fake_salesforce import SoqlError, parse_soql

SECRET = "sf-secret-" + "q" * 30
HOSTILE = ["o'brien@example.com", "a\\'b@example.com", "x' OR Email != 'y@example.com",
           "100%_off@example.com", "back\\slash\\@example.com", 'quote"d@example.com',
           "ends-with-backslash\\", "'", "\\", "new\nline@example.com", "ünï@例え.jp"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_soql_literal_reads_back_as_the_value_and_nothing_else(value: str) -> None:
    query = parse_soql(f"SELECT Id FROM Contact WHERE Email = {soql_quote(value)} LIMIT 5")
    assert query.where == [("Email", "=", value)]
    assert query.limit == 5


def test_like_patterns_escape_the_wildcards() -> None:
    assert soql_quote("100%_off", like=True) == "'100\\%\\_off'"
    assert soql_quote("100%_off") == "'100%_off'"  # = has no wildcards


def test_unescaped_text_would_have_been_refused_or_read_otherwise() -> None:
    # What the quoting protects against: the same text pasted in raw is not one literal.
    with pytest.raises(SoqlError):
        parse_soql("SELECT Id FROM Contact WHERE Email = 'x' OR Email != 'y'")
    with pytest.raises(SoqlError):
        parse_soql("SELECT Id FROM Contact WHERE Email = 'a\\qb'")


def test_control_characters_soql_cannot_write_are_refused() -> None:
    with pytest.raises(SoqlValueError):
        soql_quote("bell\x07@example.com")
    assert clean_email(" pat@example.com ") == "pat@example.com"
    assert clean_email("no-at-sign") is None and clean_email("a b@example.com") is None


def test_limit_info_and_the_back_off_it_asks() -> None:
    assert parse_limit_info("api-usage=18/15000") == Usage(18, 15000)
    assert parse_limit_info("per-app-api-usage=2/100, api-usage=95/100") == Usage(95, 100)
    assert parse_limit_info("per-app-api-usage=99/100") is None
    assert parse_limit_info(None) is None
    assert backoff_s(Usage(89, 100), 90, 3600) is None
    assert backoff_s(Usage(90, 100), 90, 3600) == 60.0  # at the threshold: the minimum
    assert backoff_s(Usage(95, 100), 90, 3600) == pytest.approx(1800)
    assert backoff_s(Usage(120, 100), 90, 3600) == 3600


def test_error_bodies_become_the_reason() -> None:
    body = json.dumps([{"message": "Priority needs approval", "errorCode":
                        "FIELD_CUSTOM_VALIDATION_EXCEPTION", "fields": ["Priority"]}]).encode()
    assert reason_from(400, body) == ("Salesforce answered 400: FIELD_CUSTOM_VALIDATION_"
                                      "EXCEPTION: Priority needs approval (fields: Priority)")
    assert reason_from(503, b"<html>down</html>") == "Salesforce answered 503: no message"
    assert "invalid_grant" in reason_from(400, b'{"error": "invalid_grant"}')


def _case(status: str, priority: str) -> CaseView:
    return CaseView(id="c1", key="SUP-1", subject="  Two\nlines ", description="",
                    requester_email=None, requester_name=None, status=status,
                    priority=priority)


def test_the_plan_writes_only_what_the_case_owns_and_says_the_rest() -> None:
    mapping = SalesforceMapping.model_validate({"priority": {"owner": "salesforce", "values": {
        "high": "High"}}})
    created = plan_sync(_case("weird", "high"), None, {}, mapping)
    assert created.body == {"Subject": "Two lines", "Priority": "High"}  # seeded on create
    assert created.notes == ["status 'weird' has no Salesforce value in the mapping: not sent"]
    current = {"Status": "Working", "Priority": "Low"}
    updated = plan_sync(_case("open", "high"), current, {"pushed": {"Status": "Working"}},
                        mapping)
    assert updated.body == {"Subject": "Two lines", "Status": "Working"}
    assert [(c["field"], c["owner"]) for c in updated.conflicts] == [("priority", "salesforce")]
    moved = plan_sync(_case("open", "high"), {"Status": "Escalated", "Priority": "High"},
                      {"pushed": {"Status": "Working"}}, mapping)
    assert [(c["field"], c["salesforce"], c["case"]) for c in moved.conflicts] == [
        ("status", "Escalated", "Working")]


@pytest.fixture
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SMART_SUPPORT_SALESFORCE_") or name == "SMART_SUPPORT_SERVER_CONFIG":
            monkeypatch.delenv(name)
    monkeypatch.setenv("SMART_SUPPORT_SERVER_SECRET", "s" * 48)


@pytest.mark.usefixtures("_clean_env")
def test_settings_from_the_config_file_and_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(data_dir=tmp_path).salesforce is None
    (tmp_path / "server.toml").write_text(
        '[salesforce]\nurl = "https://acme.my.salesforce.com"\nclient_id = "3MVG9x"\n'
        f'client_secret = "{SECRET}"\n'
        '[salesforce.mapping.priority]\nowner = "salesforce"\n'
        'values = {low = "Low", high = "High"}\n', encoding="utf-8")
    sf = load_settings(data_dir=tmp_path).salesforce
    assert sf is not None
    assert (sf.url, sf.client_id, sf.external_id_field, sf.api_version) == (
        "https://acme.my.salesforce.com", "3MVG9x", "Support_Case_Id__c", "v60.0")
    assert sf.mapping.priority.owner == "salesforce"
    assert sf.mapping.status.values["open"] == "Working"  # the default where none is given
    monkeypatch.setenv("SMART_SUPPORT_SALESFORCE_API_VERSION", "v61.0")
    monkeypatch.setenv("SMART_SUPPORT_SALESFORCE_MAPPING", json.dumps(
        {"status": {"owner": "salesforce", "values": {"open": "In Progress"}}}))
    settings = load_settings(data_dir=tmp_path)
    assert settings.salesforce is not None
    assert settings.salesforce.api_version == "v61.0"
    assert settings.salesforce.mapping.status.values == {"open": "In Progress"}
    assert SECRET not in repr(settings)


@pytest.mark.usefixtures("_clean_env")
@pytest.mark.parametrize(("name", "value", "said"), [
    ("SMART_SUPPORT_SALESFORCE_EXTERNAL_ID_FIELD", "Bad/Field", "external_id_field"),
    ("SMART_SUPPORT_SALESFORCE_API_VERSION", "60", "SMART_SUPPORT_SALESFORCE_API_VERSION"),
    ("SMART_SUPPORT_SALESFORCE_MAPPING", "{not json", "is not JSON"),
    ("SMART_SUPPORT_SALESFORCE_MAPPING", '{"status": {"owner": "nobody"}}', "owner"),
])
def test_bad_settings_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                                value: str, said: str) -> None:
    monkeypatch.setenv("SMART_SUPPORT_SALESFORCE_URL", "https://acme.my.salesforce.com")
    monkeypatch.setenv("SMART_SUPPORT_SALESFORCE_CLIENT_ID", "3MVG9x")
    monkeypatch.setenv("SMART_SUPPORT_SALESFORCE_CLIENT_SECRET", SECRET)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=said):
        load_settings(data_dir=tmp_path)
