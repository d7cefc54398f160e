"""JIRA's settings: the [jira] table of the server config file, SMART_SUPPORT_JIRA_* over it,
clear errors for bad values, and a token that never shows in a settings dump."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_server.settings import SettingsError, load_settings

TOKEN = "tok-" + "z" * 30


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SMART_SUPPORT_JIRA_") or name == "SMART_SUPPORT_SERVER_CONFIG":
            monkeypatch.delenv(name)
    monkeypatch.setenv("SMART_SUPPORT_SERVER_SECRET", "s" * 48)


def test_no_url_means_no_jira(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path).jira is None


def test_the_config_file_and_the_environment_over_it(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "server.toml").write_text(
        '[jira]\nurl = "https://acme.atlassian.net"\nuser = "bot@acme.com"\n'
        f'token = "{TOKEN}"\napi = 3\nproject = "ENG"\nrefresh_s = 120\n', encoding="utf-8")
    jira = load_settings(data_dir=tmp_path).jira
    assert jira is not None
    assert (jira.url, jira.user, jira.api, jira.project, jira.refresh_s, jira.issue_type) == (
        "https://acme.atlassian.net", "bot@acme.com", 3, "ENG", 120.0, "Task")
    assert jira.token.get_secret_value() == TOKEN
    monkeypatch.setenv("SMART_SUPPORT_JIRA_API", "2")
    monkeypatch.setenv("SMART_SUPPORT_JIRA_REFRESH_S", "30")
    monkeypatch.setenv("SMART_SUPPORT_JIRA_WEBHOOK_SECRET", "whsec")
    settings = load_settings(data_dir=tmp_path)
    assert settings.jira is not None
    assert (settings.jira.api, settings.jira.refresh_s) == (2, 30.0)
    assert TOKEN not in repr(settings) and "whsec" not in repr(settings)


def test_env_only_and_api_auto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMART_SUPPORT_JIRA_URL", "https://jira.example.com")
    monkeypatch.setenv("SMART_SUPPORT_JIRA_TOKEN", TOKEN)
    monkeypatch.setenv("SMART_SUPPORT_JIRA_API", "auto")
    jira = load_settings(data_dir=tmp_path).jira
    assert jira is not None and jira.api is None and jira.user == ""


@pytest.mark.parametrize(("name", "value", "said"), [
    ("SMART_SUPPORT_JIRA_API", "4", "SMART_SUPPORT_JIRA_API"),
    ("SMART_SUPPORT_JIRA_REFRESH_S", "-1", "SMART_SUPPORT_JIRA_REFRESH_S"),
    ("SMART_SUPPORT_JIRA_TOKEN", "", "token"),
])
def test_bad_values_name_their_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       name: str, value: str, said: str) -> None:
    monkeypatch.setenv("SMART_SUPPORT_JIRA_URL", "https://jira.example.com")
    monkeypatch.setenv("SMART_SUPPORT_JIRA_TOKEN", TOKEN)
    if value:
        monkeypatch.setenv(name, value)
    else:
        monkeypatch.delenv(name)
    with pytest.raises(SettingsError, match=said):
        load_settings(data_dir=tmp_path)


def test_a_broken_or_missing_config_file_is_an_error(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "server.toml").write_text("[jira\nurl =", encoding="utf-8")
    with pytest.raises(SettingsError, match="server.toml"):
        load_settings(data_dir=tmp_path)
    monkeypatch.setenv("SMART_SUPPORT_SERVER_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(SettingsError, match="nope.toml"):
        load_settings(data_dir=tmp_path)
    (tmp_path / "other.toml").write_text('jira = "not a table"', encoding="utf-8")
    monkeypatch.setenv("SMART_SUPPORT_SERVER_CONFIG", str(tmp_path / "other.toml"))
    with pytest.raises(SettingsError, match=r"\[jira\]"):
        load_settings(data_dir=tmp_path)
