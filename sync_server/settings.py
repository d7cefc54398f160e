"""Server settings: where the data lives, the token secret, limits.

The token-signing secret is never a built-in default outside development: it comes from
``SMART_SUPPORT_SERVER_SECRET``, or (SQLite default only) from a file generated once in the
data folder.
"""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from app.core.event_schema import MAX_CLOCK_AHEAD_MS
from sync_server.private import private_dir

SECRET_ENV = "SMART_SUPPORT_SERVER_SECRET"
ENVIRONMENT_ENV = "SMART_SUPPORT_SERVER_ENV"
BLOB_STORE_ENV = "SMART_SUPPORT_SERVER_BLOB_STORE"
BLOB_MAX_ENV = "SMART_SUPPORT_SERVER_BLOB_MAX_BYTES"
CLOCK_AHEAD_ENV = "SMART_SUPPORT_MAX_CLOCK_AHEAD_S"  # docs/event-schema.md
SECRET_FILE = "secret.key"
LIMIT_ENV = {  # setting -> environment variable (docs/server-limits.md)
    name: f"SMART_SUPPORT_SERVER_{name.upper()}"
    for name in ("body_idle_timeout_s", "request_timeout_s", "blob_request_timeout_s",
                 "keep_alive_timeout_s", "pull_max_bytes", "push_bytes_per_minute",
                 "push_events_per_minute")
}
# The job queue and its circuit breakers (sync_server/jobs): setting -> environment variable.
JOB_ENV = {
    "job_workers": "SMART_SUPPORT_JOB_WORKERS",
    "job_lease_s": "SMART_SUPPORT_JOB_LEASE_S",
    "job_give_up_h": "SMART_SUPPORT_JOB_GIVE_UP_H",
    "job_backoff_base_s": "SMART_SUPPORT_JOB_BACKOFF_BASE_S",
    "job_backoff_cap_s": "SMART_SUPPORT_JOB_BACKOFF_CAP_S",
    "job_poll_s": "SMART_SUPPORT_JOB_POLL_S",
    "breaker_threshold": "SMART_SUPPORT_BREAKER_THRESHOLD",
    "breaker_open_s": "SMART_SUPPORT_BREAKER_OPEN_S",
    "breaker_half_open_probes": "SMART_SUPPORT_BREAKER_HALF_OPEN_PROBES",
    "mail_poll_s": "SMART_SUPPORT_MAIL_POLL_S",  # the team mailboxes (docs/mailbox.md)
}
JOB_HANDLERS_ENV = "SMART_SUPPORT_JOB_HANDLERS"  # extra "module:function" registrars
DEV_SECRET = "development-only-insecure-secret-do-not-use-in-production"
MIN_SECRET_LENGTH = 32
_WEAK_SECRETS = frozenset({"", "changeme", "change-me", "secret", DEV_SECRET})

CONFIG_ENV = "SMART_SUPPORT_SERVER_CONFIG"  # the server config file (default: DATA_DIR/server.toml)
CONFIG_FILE = "server.toml"
JIRA_ENV = {  # JiraSettings field -> environment variable (the [jira] table of the config file)
    name: f"SMART_SUPPORT_JIRA_{name.upper()}"
    for name in ("url", "user", "token", "api", "webhook_secret", "project", "issue_type",
                 "refresh_s", "timeout_s", "search_settle_s")
}
SALESFORCE_ENV = {  # SalesforceSettings field -> environment variable ([salesforce] table)
    name: f"SMART_SUPPORT_SALESFORCE_{name.upper()}"
    for name in ("url", "client_id", "client_secret", "external_id_field", "api_version",
                 "mapping", "timeout_s", "limit_pct", "limit_backoff_s", "tier_field")
}

Environment = Literal["development", "production"]
BlobStoreKind = Literal["fs", "db"]


class SettingsError(RuntimeError):
    """The configuration is unusable (e.g. a missing or default secret in production)."""


class JiraSettings(BaseModel):
    """JIRA on the server only (docs: issue 11): the credentials never reach a laptop."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(min_length=1)
    user: str = ""  # Cloud: the account's e-mail (basic auth); empty: a Data Center PAT (bearer)
    token: SecretStr
    api: Literal[2, 3] | None = None  # None: ask serverInfo
    webhook_secret: SecretStr | None = None  # None: the webhook endpoint refuses everything
    project: str = ""  # the default project of a create
    issue_type: str = "Task"
    refresh_s: float = Field(default=300.0, gt=0)  # periodic refresh of linked issues
    timeout_s: float = Field(default=30.0, gt=0)  # one HTTP request
    search_settle_s: float = Field(default=60.0, ge=0)  # how far JIRA's search may lag writes


class FieldRule(BaseModel):
    """One mapped field: which side owns it (only the owner's changes are written; the
    other side's are recorded as conflicts) and case value -> Salesforce value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: Literal["case", "salesforce"] = "case"
    values: dict[str, str] = Field(default_factory=dict)
    # Salesforce value -> case value; unset: the first case value mapped to it.
    back: dict[str, str] = Field(default_factory=dict)


def _status_rule() -> FieldRule:
    return FieldRule(values={"new": "New", "open": "Working", "pending": "Working",
                             "on-hold": "Working", "solved": "Closed", "closed": "Closed"})


def _priority_rule() -> FieldRule:
    return FieldRule(values={"low": "Low", "normal": "Medium", "high": "High",
                             "urgent": "High"})


class SalesforceMapping(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: FieldRule = Field(default_factory=_status_rule)
    priority: FieldRule = Field(default_factory=_priority_rule)


class SalesforceSettings(BaseModel):
    """Salesforce on the server only (docs/salesforce.md): OAuth 2.0 client credentials."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(min_length=1)  # the org's My Domain URL (the token endpoint's host)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    external_id_field: str = Field(default="Support_Case_Id__c",
                                   pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
    api_version: str = Field(default="v60.0", pattern=r"^v[0-9]{2,3}\.0$")
    mapping: SalesforceMapping = Field(default_factory=SalesforceMapping)
    timeout_s: float = Field(default=30.0, gt=0)
    limit_pct: float = Field(default=90.0, gt=0, le=100)  # API usage where back-off starts
    limit_backoff_s: float = Field(default=3600.0, gt=0)  # the wait at 100 % of the allocation
    tier_field: str = Field(default="", pattern=r"^([A-Za-z][A-Za-z0-9_]{0,79})?$")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    db_url: str
    data_dir: Path
    secret: str = ""
    environment: Environment = "production"
    blob_store: BlobStoreKind = "fs"
    blob_max_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    push_max_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    other_max_bytes: int = Field(default=1024 * 1024, gt=0)
    access_ttl_seconds: int = 15 * 60
    refresh_ttl_seconds: int = 30 * 24 * 3600
    keepalive_seconds: float = 15.0
    presence_window_seconds: float = 60.0
    # Login throttling (docs/login-throttling.md). login_max_failures is per (account, address).
    login_max_failures: int = Field(default=10, gt=0)
    login_window_seconds: int = Field(default=15 * 60, gt=0)
    login_address_max_failures: int = Field(default=100, gt=0)  # one address, any accounts
    login_account_max_failures: int = Field(default=20, gt=0)  # one account, any addresses
    login_device_max_failures: int = Field(default=10, gt=0)  # one device token
    login_first_delay_seconds: int = Field(default=30, gt=0)  # doubles with each failure over
    device_token_ttl_seconds: int = Field(default=180 * 24 * 3600, gt=0)
    # Strict JSON bodies (sync_server/strict_json.py).
    json_max_depth: int = Field(default=64, gt=0)
    json_max_string_chars: int = Field(default=1024 * 1024, gt=0)
    # How far a pushed event's clock may be ahead of the server's wall clock (24 h).
    max_clock_ahead_s: int = Field(default=MAX_CLOCK_AHEAD_MS // 1000, ge=0)
    # Resource limits (docs/server-limits.md; env vars in LIMIT_ENV below).
    body_idle_timeout_s: float = Field(default=30.0, gt=0)  # no body byte for this long: abort
    request_timeout_s: float = Field(default=60.0, gt=0)  # a whole request, blobs excepted
    blob_request_timeout_s: float = Field(default=300.0, gt=0)  # a blob upload or download
    keep_alive_timeout_s: float = Field(default=5.0, gt=0)  # idle keep-alive connections
    pull_max_bytes: int = Field(default=8 * 1024 * 1024, gt=0)  # rendered events per pull page
    push_bytes_per_minute: int = Field(default=128 * 1024 * 1024, gt=0)  # per user
    push_events_per_minute: int = Field(default=200_000, gt=0)  # per user
    jira: JiraSettings | None = None  # SMART_SUPPORT_JIRA_* or [jira] in the config file
    salesforce: SalesforceSettings | None = None  # SMART_SUPPORT_SALESFORCE_* or [salesforce]
    # The job queue (sync_server/jobs; env vars in JOB_ENV). Workers: concurrent jobs per
    # process; a job runs at most lease seconds before another worker may take it again.
    job_workers: int = Field(default=4, ge=1, le=256)
    job_lease_s: float = Field(default=120.0, gt=0)
    job_give_up_h: float = Field(default=24.0, gt=0)
    job_backoff_base_s: float = Field(default=2.0, gt=0)  # full jitter: up to base * 2**n
    job_backoff_cap_s: float = Field(default=600.0, gt=0)
    job_poll_s: float = Field(default=0.5, gt=0)  # how often an idle worker looks for jobs
    job_handlers: str = ""  # comma-separated "module:function" registrars (plug-ins, tests)
    breaker_threshold: int = Field(default=5, ge=1)  # consecutive failures that open it
    breaker_open_s: float = Field(default=60.0, gt=0)  # open this long, then half-open
    breaker_half_open_probes: int = Field(default=1, ge=1)  # calls let through half-open
    mail_poll_s: float = Field(default=60.0, gt=0)  # each mailbox polled (IDLE wakes it sooner)

    @property
    def is_postgres(self) -> bool:
        return self.db_url.startswith("postgresql")

    def require_secret(self) -> str:
        """The signing secret, refusing weak or default values outside development."""
        if self.environment == "development":
            return self.secret or DEV_SECRET
        if self.secret in _WEAK_SECRETS or len(self.secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"refusing to start: set {SECRET_ENV} to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`)"
            )
        return self.secret


def default_data_dir() -> Path:
    return Path(user_data_dir("smart-support-server", appauthor=False))


def _stored_secret(data_dir: Path) -> str:
    """Read (or create once, mode 0600) the secret file of the SQLite default setup."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    private_dir(data_dir)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def _config_file(folder: Path) -> dict[str, Any]:
    """The server config file (TOML), or nothing when there is none."""
    path = Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else folder / CONFIG_FILE
    if not path.is_file():
        if os.environ.get(CONFIG_ENV):
            raise SettingsError(f"{CONFIG_ENV} names {path}, which is not a file")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read the config file {path}: {exc}") from None
    return data


def jira_settings(config: dict[str, Any]) -> JiraSettings | None:
    """JIRA's settings: the [jira] table of the config file, each overridden by its
    SMART_SUPPORT_JIRA_* variable; None when no URL is configured."""
    table = config.get("jira", {})
    if not isinstance(table, dict):
        raise SettingsError("[jira] in the config file must be a table")
    values: dict[str, Any] = dict(table)
    for name, env in JIRA_ENV.items():
        if os.environ.get(env):
            values[name] = os.environ[env]
    if not values.get("url"):
        return None
    if "api" in values and str(values["api"]).strip() in ("", "auto"):
        values.pop("api")
    elif "api" in values:  # "3" from the environment is the number 3
        values["api"] = int(v) if (v := str(values["api"]).strip()).isdigit() else v
    try:
        return JiraSettings.model_validate(values, strict=False)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SettingsError(f"JIRA setting {where} ({JIRA_ENV.get(where, where)}): "
                            f"{first['msg']}") from None


def salesforce_settings(config: dict[str, Any]) -> SalesforceSettings | None:
    """Salesforce's settings: the [salesforce] table of the config file (its mapping as
    [salesforce.mapping.status] etc.), each overridden by its SMART_SUPPORT_SALESFORCE_*
    variable (the mapping as JSON); None when no URL is configured."""
    table = config.get("salesforce", {})
    if not isinstance(table, dict):
        raise SettingsError("[salesforce] in the config file must be a table")
    values: dict[str, Any] = dict(table)
    for name, env in SALESFORCE_ENV.items():
        if os.environ.get(env):
            values[name] = os.environ[env]
    if not values.get("url"):
        return None
    if isinstance(values.get("mapping"), str):
        try:
            values["mapping"] = json.loads(values["mapping"])
        except ValueError as exc:
            raise SettingsError(f"{SALESFORCE_ENV['mapping']} is not JSON: {exc}") from None
    try:
        return SalesforceSettings.model_validate(values, strict=False)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        env = SALESFORCE_ENV.get(str(first["loc"][0]), where) if first["loc"] else where
        raise SettingsError(f"Salesforce setting {where} ({env}): {first['msg']}") from None


def _env_numbers() -> dict[str, Any]:
    """The limits and job queue settings given as environment variables."""
    found: dict[str, Any] = {}
    for name, env in (*LIMIT_ENV.items(), *JOB_ENV.items()):
        if os.environ.get(env):
            try:
                number = float(os.environ[env])
            except ValueError:
                raise SettingsError(f"{env} must be a number, not {os.environ[env]!r}") from None
            if not number > 0:  # every one of them (NaN fails this too)
                raise SettingsError(f"{env} must be greater than 0, not {os.environ[env]!r}")
            found[name] = int(number) if name in ("job_workers", "breaker_threshold",
                                                  "breaker_half_open_probes") else number
    return found


def load_settings(
    *,
    data_dir: Path | None = None,
    db_url: str | None = None,
    blob_store: BlobStoreKind | None = None,
    with_secret: bool = True,
) -> Settings:
    """Settings from the command line and the environment."""
    folder = (data_dir or default_data_dir()).expanduser().resolve()
    if db_url is None:
        private_dir(folder)  # owner-only: it holds the database and password hashes
    environment: Environment = (
        "development" if os.environ.get(ENVIRONMENT_ENV) == "development" else "production"
    )
    url = db_url or f"sqlite:///{folder / 'server.sqlite3'}"
    secret = os.environ.get(SECRET_ENV, "")
    if with_secret and not secret and db_url is None:
        secret = _stored_secret(folder)
    store: BlobStoreKind = blob_store or ("db" if os.environ.get(BLOB_STORE_ENV) == "db" else "fs")
    extra: dict[str, Any] = {}
    if os.environ.get(BLOB_MAX_ENV):
        extra["blob_max_bytes"] = int(os.environ[BLOB_MAX_ENV])
    if os.environ.get(CLOCK_AHEAD_ENV):
        try:
            extra["max_clock_ahead_s"] = int(os.environ[CLOCK_AHEAD_ENV])
        except ValueError:
            raise SettingsError(f"{CLOCK_AHEAD_ENV} must be a whole number of seconds") from None
    extra.update(_env_numbers())
    if os.environ.get(JOB_HANDLERS_ENV):
        extra["job_handlers"] = os.environ[JOB_HANDLERS_ENV]
    config = _config_file(folder)
    settings = Settings(
        db_url=url, data_dir=folder, secret=secret, environment=environment,
        blob_store=store, jira=jira_settings(config), salesforce=salesforce_settings(config),
        **extra,
    )
    if with_secret:
        settings.require_secret()
    return settings
