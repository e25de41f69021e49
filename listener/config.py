"""Configuration: a TOML file, validated completely at load time.

Every problem is reported as one line naming the file, the key and what is expected. Secrets never
live in the file: it names the environment variables that hold them.
"""

from __future__ import annotations

import os
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment.loading import RUNTIMES, ModelSettings
from sentiment.nps import DEFAULT_CONFIDENCE
from surveys.policy import ContactPolicy
from surveys.settings import SurveySettings

from .errors import ConfigError, MissingCredential

LANGUAGES = ("it", "en")
SMTP_SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class Brand:
    name: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    languages: tuple[str, ...] = LANGUAGES
    alert_language: str = "it"
    recipients: tuple[str, ...] = ()  # extra recipients for this brand's alerts
    timezone: str = "Europe/Rome"  # quiet hours and daily caps of surveys are local to the brand

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password_env: str = ""
    timeout_seconds: float = 20.0

    def password(self) -> str:
        if not self.password_env:
            return ""
        value = os.environ.get(self.password_env)
        if value is None:
            raise MissingCredential(self.password_env, "alerts.smtp")
        return value


@dataclass(frozen=True)
class Alerts:
    sender: str = "ascolto@localhost"
    recipients: tuple[str, ...] = ()
    smtp: Smtp | None = None
    retry_seconds: float = 60.0  # first retry; doubles per attempt
    max_retry_seconds: float = 3600.0
    case_due_hours: float = 48.0  # a detractor's follow-up case is due this long after it arrives


@dataclass(frozen=True)
class Reports:
    """The weekly digest to marketers."""

    recipients: tuple[str, ...]
    weekday: str = "mon"
    hour: int = 9
    timezone: str = "Europe/Rome"
    period_days: int = 28  # NPS moves slowly and samples are small: a 4-week window, compared with the 4 before


@dataclass(frozen=True)
class ImportSource:
    name: str
    path: Path
    brand: str | None = None
    interval_minutes: float = 15.0
    kind = "import"


def _secret(variable: str, needed_for: str) -> str:
    value = os.environ.get(variable, "")
    if not value.strip():
        raise MissingCredential(variable, needed_for)
    return value


@dataclass(frozen=True)
class XSource:
    """Recent search on X (API v2) with an app bearer token."""

    name: str
    bearer_token_env: str = "X_BEARER_TOKEN"
    languages: tuple[str, ...] = ()  # empty: each brand's languages
    include_retweets: bool = False
    max_results: int = 100  # per page, 10-100
    max_pages: int = 10  # per brand and run: bounds a backfill
    monthly_read_budget: int | None = None  # tweets read per calendar month; None: no limit
    interval_minutes: float = 15.0
    kind = "x"

    def bearer_token(self) -> str:
        return _secret(self.bearer_token_env, f"the X bearer token of source {self.name!r}")


@dataclass(frozen=True)
class RedditSource:
    """Read-only Reddit (app-only OAuth) search of submissions, and comments of named subreddits."""

    name: str
    client_id_env: str = "REDDIT_CLIENT_ID"
    client_secret_env: str = "REDDIT_CLIENT_SECRET"
    user_agent: str = "ascolto/0.1 (self-hosted social listening)"
    subreddits: tuple[str, ...] = ()  # empty: all of Reddit (submissions only)
    comments: bool = True
    limit: int = 250  # newest items read per query and run
    interval_minutes: float = 15.0
    kind = "reddit"

    def credentials(self) -> tuple[str, str]:
        needed_for = f"the Reddit app of source {self.name!r}"
        return _secret(self.client_id_env, needed_for), _secret(self.client_secret_env, needed_for)


Source = ImportSource | XSource | RedditSource


@dataclass(frozen=True)
class Config:
    path: Path
    database: Path
    model: ModelSettings
    detractor_confidence: float
    brands: tuple[Brand, ...]
    alerts: Alerts
    sources: tuple[Source, ...]
    dispatch_interval_minutes: float = 1.0
    surveys: SurveySettings | None = None
    reports: Reports | None = None
    brand_by_name: dict[str, Brand] = field(default_factory=dict, compare=False, repr=False)

    def brand(self, name: str) -> Brand:
        return self.brand_by_name[name]

    def source(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name)


class _Table:
    """One TOML table being read: every key must be known, every value of the expected type."""

    def __init__(self, path: Path, prefix: str, data: Any):
        if not isinstance(data, dict):
            raise ConfigError(path, prefix, f"expected a table, got {_kind(data)}")
        self.path, self.prefix, self.data = path, prefix, data
        self.read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def get(self, name: str, kind: type | tuple, default: Any = ..., expected: str = "") -> Any:
        self.read.add(name)
        if name not in self.data:
            if default is ...:
                raise ConfigError(self.path, self.key(name), f"is required ({expected or _name(kind)})")
            return default
        value = self.data[name]
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise ConfigError(self.path, self.key(name), f"expected {expected or _name(kind)}, got {_kind(value)}")
        return value

    def string(self, name: str, default: Any = ..., choices: tuple[str, ...] = ()) -> str:
        value = self.get(name, str, default)
        if choices and value not in choices:
            raise ConfigError(self.path, self.key(name), f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def number(self, name: str, default: Any = ..., low: float | None = None, high: float | None = None) -> float:
        value = self.get(name, (int, float), default, "a number")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise ConfigError(self.path, self.key(name), f"expected a number {bounds}, got {value!r}")
        return value

    def strings(self, name: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(name, list, default, "a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(self.path, self.key(name), "expected a list of strings")
        return tuple(value)

    def table(self, name: str, required: bool = False) -> _Table | None:
        self.read.add(name)
        if name not in self.data:
            if required:
                raise ConfigError(self.path, self.key(name), "is required (a table)")
            return None
        return _Table(self.path, self.key(name), self.data[name])

    def tables(self, name: str) -> list[_Table]:
        items = self.get(name, list, [], "an array of tables")
        return [_Table(self.path, f"{self.key(name)}[{i}]", item) for i, item in enumerate(items)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise ConfigError(self.path, self.key(unknown[0]), "unknown key (check its spelling)")


def _name(kind) -> str:
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
             list: "a list", dict: "a table"}
    return names.get(kind, " or ".join(names.get(k, k.__name__) for k in kind) if isinstance(kind, tuple) else kind.__name__)


def _kind(value) -> str:
    return {bool: "a boolean", str: "a string", int: "a number", float: "a number", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def load_config(path: str | Path, *, require_secrets: bool = True) -> Config:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    config = _read(path, _Table(path, "", data))
    if require_secrets and config.alerts.smtp:
        _check_secret(path, config.alerts.smtp)
    return config


def _check_secret(path: Path, smtp: Smtp) -> None:
    if smtp.password_env and smtp.password_env not in os.environ:
        raise ConfigError(path, "alerts.smtp.password_env",
                          f"environment variable {smtp.password_env} is not set (the SMTP password)")


def _resolve(path: Path, value: str) -> Path:
    """Paths in the file are relative to the file, so a config works from any directory."""
    candidate = Path(os.path.expanduser(value))
    return candidate if candidate.is_absolute() else (path.parent / candidate).resolve()


def _read(path: Path, root: _Table) -> Config:
    database = root.table("database", required=True)
    db_path = _resolve(path, database.string("path"))
    database.done()
    model, threshold = _read_model(path, root.table("model"))
    brands = tuple(_read_brand(t) for t in root.tables("brands"))
    if not brands:
        raise ConfigError(path, "brands", "at least one [[brands]] table is required")
    by_name = {b.name: b for b in brands}
    if len(by_name) != len(brands):
        raise ConfigError(path, "brands", "brand names must be unique")
    alerts = _read_alerts(root.table("alerts"))
    sources = tuple(_read_source(path, t, by_name) for t in root.tables("sources"))
    if len({s.name for s in sources}) != len(sources):
        raise ConfigError(path, "sources", "source names must be unique")
    scheduler = root.table("scheduler")
    dispatch = scheduler.number("dispatch_interval_minutes", 1.0, low=0.1) if scheduler else 1.0
    if scheduler:
        scheduler.done()
    surveys_table = root.table("surveys")
    surveys = _read_surveys(surveys_table, alerts) if surveys_table else None
    reports_table = root.table("reports")
    reports = _read_reports(reports_table) if reports_table else None
    root.done()
    return Config(path, db_path, model, threshold, brands, alerts, sources, dispatch, surveys, reports, by_name)


def _read_reports(table: _Table) -> Reports:
    reports = Reports(
        recipients=table.strings("recipients"),
        weekday=table.string("weekday", "mon", choices=("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
        hour=int(table.number("hour", 9, low=0, high=23)),
        timezone=table.string("timezone", "Europe/Rome"),
        period_days=int(table.number("period_days", 28, low=1, high=366)),
    )
    try:
        zoneinfo.ZoneInfo(reports.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(table.path, table.key("timezone"), f"expected an IANA time zone, got {reports.timezone!r}") from None
    table.done()
    return reports


def _read_model(path: Path, table: _Table | None) -> tuple[ModelSettings, float]:
    if table is None:
        return ModelSettings(), DEFAULT_CONFIDENCE
    head = table.get("head", str, None)
    label_map = table.get("label_map", dict, {}, "a table of model label = our label")
    for key, value in label_map.items():
        if value not in ("negative", "neutral", "positive"):
            raise ConfigError(path, f"model.label_map.{key}", f"expected negative, neutral or positive, got {value!r}")
    cache = table.get("cache_dir", str, None)
    settings = ModelSettings(
        name=table.string("name", "auto"),
        head=_resolve(path, head) if head else None,
        label_map=label_map,
        batch_size=int(table.number("batch_size", 32, low=1, high=1024)),
        max_length=int(table.number("max_length", 128, low=8, high=512)),
        cache_dir=_resolve(path, cache) if cache else None,
        runtime=table.string("runtime", "torch", choices=RUNTIMES),
    )
    threshold = table.number("detractor_confidence", DEFAULT_CONFIDENCE, low=0.34, high=1.0)
    table.done()
    return settings, threshold


def _read_brand(table: _Table) -> Brand:
    brand = Brand(
        name=table.string("name"),
        keywords=table.strings("keywords"),
        exclude=table.strings("exclude", ()),
        languages=table.strings("languages", LANGUAGES),
        alert_language=table.string("alert_language", "it", choices=LANGUAGES),
        recipients=table.strings("recipients", ()),
        timezone=table.string("timezone", "Europe/Rome"),
    )
    try:
        brand.zone
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(table.path, table.key("timezone"), f"expected an IANA time zone such as Europe/Rome, "
                                                              f"got {brand.timezone!r}") from None
    for lang in brand.languages:
        if lang not in LANGUAGES:
            raise ConfigError(table.path, table.key("languages"), f"expected codes among {', '.join(LANGUAGES)}, got {lang!r}")
    table.done()
    return brand


def _read_alerts(table: _Table | None) -> Alerts:
    if table is None:
        return Alerts()
    smtp_table = table.table("smtp")
    alerts = Alerts(
        sender=table.string("sender", "ascolto@localhost"),
        recipients=table.strings("recipients", ()),
        smtp=_read_smtp(smtp_table) if smtp_table else None,
        retry_seconds=table.number("retry_seconds", 60.0, low=1),
        max_retry_seconds=table.number("max_retry_seconds", 3600.0, low=1),
        case_due_hours=table.number("case_due_hours", 48.0, low=0),
    )
    table.done()
    return alerts


def _read_surveys(table: _Table, alerts: Alerts) -> SurveySettings:
    quiet = table.get("quiet_hours", list, [21, 9], "[start hour, end hour], e.g. [21, 9]")
    if len(quiet) != 2 or not all(isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 23 for h in quiet):
        raise ConfigError(table.path, table.key("quiet_hours"), f"expected [start hour, end hour] from 0 to 23, got {quiet!r}")
    policy = ContactPolicy(
        delay_days=table.number("delay_days", 3, low=0),
        min_days_between_surveys=table.number("min_days_between_surveys", 90, low=0),
        reminder_after_days=table.number("reminder_after_days", 4, low=0),
        link_valid_days=table.number("link_valid_days", 30, low=1),
        quiet_start_hour=quiet[0],
        quiet_end_hour=quiet[1],
        daily_cap=int(table.number("daily_cap", 200, low=1)),
    )
    base_url = table.string("base_url")
    if not base_url.startswith(("https://", "http://")):
        raise ConfigError(table.path, table.key("base_url"), f"expected an http(s) URL, got {base_url!r}")
    settings = SurveySettings(
        base_url=base_url,
        sender=table.string("sender", alerts.sender),
        policy=policy,
        secret_env=table.string("secret_env", "ASCOLTO_SURVEY_SECRET"),
        orders_secret_env=table.string("orders_secret_env", "ASCOLTO_ORDERS_SECRET"),
        host=table.string("host", "127.0.0.1"),
        port=int(table.number("port", 8080, low=1, high=65535)),
        interval_minutes=table.number("interval_minutes", 10, low=0.1),
        max_comment_chars=int(table.number("max_comment_chars", 2000, low=1, high=20000)),
    )
    table.done()
    return settings


def _read_smtp(table: _Table) -> Smtp | None:
    host = table.string("host", "")
    smtp = Smtp(
        host=host,
        port=int(table.number("port", 587, low=1, high=65535)),
        security=table.string("security", "starttls", choices=SMTP_SECURITY),
        username=table.string("username", ""),
        password_env=table.string("password_env", ""),
        timeout_seconds=table.number("timeout_seconds", 20.0, low=1),
    )
    if smtp.username and not smtp.password_env:
        raise ConfigError(table.path, table.key("password_env"),
                          "is required with username (the name of the environment variable holding the password)")
    table.done()
    return smtp if host else None  # an empty host means: alerts stay in the outbox


def _read_source(path: Path, table: _Table, brands: dict[str, Brand]) -> Source:
    kind = table.string("type", choices=("import", "x", "reddit"))
    reader = {"import": _read_import_source, "x": _read_x_source, "reddit": _read_reddit_source}[kind]
    source = reader(path, table, brands)
    table.done()
    return source


def _common(table: _Table) -> dict:
    return {"name": table.string("name"), "interval_minutes": table.number("interval_minutes", 15.0, low=0.1)}


def _read_import_source(path: Path, table: _Table, brands: dict[str, Brand]) -> ImportSource:
    source = ImportSource(path=_resolve(path, table.string("path")), brand=table.string("brand", None),
                          **_common(table))
    if source.brand is not None and source.brand not in brands:
        raise ConfigError(path, table.key("brand"), f"no brand named {source.brand!r} in [[brands]]")
    return source


def _read_x_source(path: Path, table: _Table, brands: dict[str, Brand]) -> XSource:
    budget = table.get("monthly_read_budget", int, None, "a whole number of tweets")
    if budget is not None and budget < 1:
        raise ConfigError(path, table.key("monthly_read_budget"), "expected a whole number of tweets, at least 1")
    source = XSource(
        bearer_token_env=table.string("bearer_token_env", "X_BEARER_TOKEN"),
        languages=table.strings("languages", ()),
        include_retweets=table.get("include_retweets", bool, False),
        max_results=int(table.number("max_results", 100, low=10, high=100)),
        max_pages=int(table.number("max_pages", 10, low=1, high=1000)),
        monthly_read_budget=budget,
        **_common(table),
    )
    for lang in source.languages:
        if not (isinstance(lang, str) and 2 <= len(lang) <= 3 and lang.isalpha()):
            raise ConfigError(path, table.key("languages"), f"expected language codes such as it or en, got {lang!r}")
    return source


def _read_reddit_source(path: Path, table: _Table, brands: dict[str, Brand]) -> RedditSource:
    subreddits = tuple(s.removeprefix("r/") for s in table.strings("subreddits", ()))
    for name in subreddits:
        if not name.replace("_", "").isalnum():
            raise ConfigError(path, table.key("subreddits"), f"expected subreddit names such as italy, got {name!r}")
    return RedditSource(
        client_id_env=table.string("client_id_env", "REDDIT_CLIENT_ID"),
        client_secret_env=table.string("client_secret_env", "REDDIT_CLIENT_SECRET"),
        user_agent=table.string("user_agent", RedditSource.user_agent),
        subreddits=subreddits,
        comments=table.get("comments", bool, True),
        limit=int(table.number("limit", 250, low=1, high=1000)),
        **_common(table),
    )
