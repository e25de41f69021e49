"""Configuration: a TOML file, validated completely at load time.

Every problem is reported as one line naming the file, the key and what is expected. The settings
classes (``listener.settings``, each source's ``Settings``, ``sentiment``'s and ``surveys``') hold
their defaults and bounds in their fields; ``read_fields`` reads any of them from a table. Secrets
never live in the file: it names the environment variables that hold them.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from listener.alerts.settings import Alerts, Channel, Smtp
from listener.kernel.errors import ConfigError
from listener.replies.suggestions import Template as ReplyTemplate
from listener.replies.suggestions import shipped as shipped_replies
from listener.rules import DEFAULT_CONFIDENCE
from listener.settings import Brand, Cluster, Learning, Reports, Scheduler, ThemeMatching, Web
from sentiment.runtime.labels import LABELS
from sentiment.runtime.loading import ModelSettings
from surveys.policy import ContactPolicy
from surveys.settings import SurveySettings

from .sources.base import SourceSettings
from .sources.registry import SOURCES
from .themes.taxonomy import Taxonomy, Theme, retail_taxonomy

MAX_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class Config:
    path: Path
    database: Path
    model: ModelSettings
    detractor_confidence: float
    brands: tuple[Brand, ...]
    alerts: Alerts
    sources: tuple[SourceSettings, ...]
    scheduler: Scheduler = Scheduler()
    surveys: SurveySettings | None = None
    reports: Reports | None = None
    web: Web | None = None
    learning: Learning = Learning()
    max_text_chars: int = MAX_TEXT_CHARS  # a mention's text is stored up to this length
    themes: Taxonomy = field(default_factory=retail_taxonomy)
    theme_matching: ThemeMatching = ThemeMatching()
    replies: tuple[ReplyTemplate, ...] = field(default_factory=shipped_replies)  # suggested replies
    cluster: Cluster | None = None  # scoring on Ray; None: in this process
    brand_by_name: dict[str, Brand] = field(default_factory=dict, compare=False, repr=False)

    def brand(self, name: str) -> Brand:
        return self.brand_by_name[name]

    def source(self, name: str) -> SourceSettings:
        return next(s for s in self.sources if s.name == name)


class Table:
    """One TOML table being read: every key must be known, every value of the expected type."""

    def __init__(self, path: Path, prefix: str, data: Any):
        if not isinstance(data, dict):
            raise ConfigError(path, prefix, f"expected a table, got {_kind(data)}")
        self.path, self.prefix, self.data = path, prefix, data
        self.read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix and name else self.prefix or name

    def problem(self, name: str, text: str) -> ConfigError:
        return ConfigError(self.path, self.key(name), text)

    def get(self, name: str, kind: type | tuple, default: Any = ..., expected: str = "") -> Any:
        self.read.add(name)
        if name not in self.data:
            if default is ...:
                raise self.problem(name, f"is required ({expected or _name(kind)})")
            return default
        value = self.data[name]
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise self.problem(name, f"expected {expected or _name(kind)}, got {_kind(value)}")
        return value

    def string(self, name: str, default: Any = ..., choices: tuple[str, ...] = ()) -> str:
        value = self.get(name, str, default)
        if choices and value not in choices:
            raise self.problem(name, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def number(self, name: str, default: Any = ..., low: float | None = None, high: float | None = None,
               whole: bool = False) -> float:
        value = self.get(name, (int, float), default, "a number")
        if name not in self.data:
            return value
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise self.problem(name, f"expected a number {bounds}, got {value!r}")
        if whole:
            if value != int(value):
                raise self.problem(name, f"expected a whole number, got {value!r}")
            value = int(value)
        return value

    def strings(self, name: str, default: Any = ..., expected: str = "a list of strings") -> tuple[str, ...]:
        value = self.get(name, list, default, expected)
        if not all(isinstance(v, str) for v in value):
            raise self.problem(name, f"expected {expected}")
        return tuple(value)

    def integers(self, name: str, default: Any = ..., expected: str = "a list of whole numbers") -> tuple[int, ...]:
        value = self.get(name, list, default, expected)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise self.problem(name, f"expected {expected}")
        return tuple(value)

    def path_value(self, name: str, default: Any = ...) -> Path | None:
        """A file or folder named in the file: relative to the file, so a config works from anywhere."""
        value = self.get(name, str, default)
        if name not in self.data or value is None:
            return value
        return self.path_of(value)

    def path_of(self, value: str) -> Path:
        candidate = Path(os.path.expanduser(value))
        return candidate if candidate.is_absolute() else (self.path.parent / candidate).resolve()

    def table(self, name: str, required: bool = False) -> Table | None:
        self.read.add(name)
        if name not in self.data:
            if required:
                raise self.problem(name, "is required (a table)")
            return None
        return Table(self.path, self.key(name), self.data[name])

    def tables(self, name: str) -> list[Table]:
        items = self.get(name, list, [], "an array of tables")
        return [Table(self.path, f"{self.key(name)}[{i}]", item) for i, item in enumerate(items)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise self.problem(unknown[0], "unknown key (check its spelling)")


def _name(kind) -> str:
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
             list: "a list", dict: "a table"}
    return names.get(kind, " or ".join(names.get(k, k.__name__) for k in kind) if isinstance(kind, tuple) else kind.__name__)


def _kind(value) -> str:
    return {bool: "a boolean", str: "a string", int: "a number", float: "a number", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


# ---- reading a settings dataclass from its own fields -------------------------------------------

def read_fields(table: Table, cls: type, given: Mapping[str, Any] | None = None,
                defaults: Mapping[str, Any] | None = None):
    """An instance of the dataclass ``cls``, each field read from its key in ``table`` with the
    field's default, bounds and checks (its metadata; see ``listener.settings``). ``given`` fields are
    not read; ``defaults`` replace a field's own default (e.g. the survey sender is the alert sender)."""
    given, defaults = dict(given or {}), defaults or {}
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        if spec.name in given or not spec.init or spec.metadata.get("table"):
            continue
        default = defaults.get(spec.name, _default_of(spec))
        given[spec.name] = _read_value(table, spec, hints[spec.name], default)
    return cls(**given)


def _default_of(spec: dataclasses.Field) -> Any:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return ...  # required


def _read_value(table: Table, spec: dataclasses.Field, hint: Any, default: Any) -> Any:
    name, meta = spec.name, spec.metadata
    kind = _without_none(hint)
    if kind is bool:
        value = table.get(name, bool, default)
    elif kind in (int, float):
        value = table.number(name, default, meta.get("low"), meta.get("high"), whole=kind is int)
    elif kind is Path:
        value = table.path_value(name, default)
    elif typing.get_origin(kind) is tuple and typing.get_args(kind)[0] is int:
        value = table.integers(name, default, meta.get("expected", "a list of whole numbers"))
    elif typing.get_origin(kind) is tuple:
        value = table.strings(name, default, meta.get("expected", "a list of strings"))
    elif kind is str:
        value = table.get(name, str, default, meta.get("expected", ""))
    else:
        value = table.get(name, dict, default, meta.get("expected", ""))
    if name not in table.data:
        return value  # defaults are valid as written
    if "convert" in meta:
        value = meta["convert"](value)
    _check_choices(table, name, value, meta.get("choices"))
    problem = meta["check"](value) if "check" in meta else None
    if problem:
        raise table.problem(name, problem)
    return value


def _without_none(hint: Any) -> Any:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        kinds = [k for k in typing.get_args(hint) if k is not type(None)]
        return kinds[0]
    return hint


def _check_choices(table: Table, name: str, value: Any, choices: Sequence[str] | None) -> None:
    if not choices:
        return
    if isinstance(value, tuple):
        for item in value:
            if item not in choices:
                raise table.problem(name, f"expected values among {', '.join(choices)}, got {item!r}")
    elif value not in choices:
        raise table.problem(name, f"expected one of {', '.join(choices)}, got {value!r}")


# ---- the file ----------------------------------------------------------------------------------

def load_config(path: str | Path, *, require_secrets: bool = True) -> Config:
    path = Path(path)
    try:
        # utf-8-sig: Notepad and some editors start a UTF-8 file with a byte-order mark.
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "not UTF-8 text (save the file as UTF-8)") from None
    config = _read(path, Table(path, "", data))
    if require_secrets and config.alerts.smtp:
        _check_secret(path, config.alerts.smtp)
    return config


def _check_secret(path: Path, smtp: Smtp) -> None:
    if smtp.password_env and smtp.password_env not in os.environ:
        raise ConfigError(path, "alerts.smtp.password_env",
                          f"environment variable {smtp.password_env} is not set (the SMTP password)")


def _read(path: Path, root: Table) -> Config:
    database = root.table("database", required=True)
    db_path = database.path_value("path")
    if db_path.is_dir():
        raise database.problem("path", f"{db_path} is a folder; name the database file in it, e.g. "
                                       f"{db_path / 'ascolto.db'}")
    max_text_chars = int(database.number("max_text_chars", MAX_TEXT_CHARS, low=280, high=1_000_000, whole=True))
    database.done()
    model, threshold = _read_model(root.table("model"))
    brands = tuple(_done(t, read_fields(t, Brand)) for t in root.tables("brands"))
    if not brands:
        raise ConfigError(path, "brands", "at least one [[brands]] table is required")
    by_name = {b.name: b for b in brands}
    if len(by_name) != len(brands):
        raise ConfigError(path, "brands", "brand names must be unique")
    alerts = _read_alerts(root.table("alerts"), by_name)
    sources = tuple(_read_source(t, brands) for t in root.tables("sources"))
    if len({s.name for s in sources}) != len(sources):
        raise ConfigError(path, "sources", "source names must be unique")
    scheduler = _optional(root.table("scheduler"), lambda t: read_fields(t, Scheduler), Scheduler())
    cluster = _optional(root.table("cluster"), lambda t: read_fields(t, Cluster), None)
    web = _optional(root.table("web"), lambda t: read_fields(t, Web), None)
    surveys = _optional(root.table("surveys"), lambda t: _read_surveys(t, alerts, web), None)
    reports = _optional(root.table("reports"), lambda t: read_fields(t, Reports), None)
    learning = _optional(root.table("learning"), _read_learning, Learning())
    matching = _optional(root.table("theme_matching"), lambda t: read_fields(t, ThemeMatching), ThemeMatching())
    themes = _read_themes(root.tables("themes"), by_name, matching)
    replies = _read_replies(root.tables("replies"), by_name)
    root.done()
    return Config(path, db_path, model, threshold, brands, alerts, sources, scheduler, surveys, reports, web,
                  learning, max_text_chars, themes, matching, replies, cluster, by_name)


def _read_themes(tables: Sequence[Table], brands: Mapping[str, Brand], matching: ThemeMatching) -> Taxonomy:
    """The configured [[themes]], or the shipped retail ones (unless switched off)."""
    themes = []
    for table in tables:
        theme = _done(table, read_fields(table, Theme))
        if theme.id in {t.id for t in themes}:
            raise table.problem("id", f"theme {theme.id!r} is defined twice")
        unknown = [b for b in theme.brands if b not in brands]
        if unknown:
            raise table.problem("brands", f"no brand named {unknown[0]!r} in [[brands]]")
        themes.append(theme)
    if themes or not matching.retail_themes:
        return Taxonomy(tuple(themes))
    return retail_taxonomy()


def _read_replies(tables: Sequence[Table], brands: Mapping[str, Brand]) -> tuple[ReplyTemplate, ...]:
    """The configured [[replies]], or the shipped ones."""
    templates = []
    for table in tables:
        template = _done(table, read_fields(table, ReplyTemplate))
        if template.brand and template.brand not in brands:
            raise table.problem("brand", f"no brand named {template.brand!r} in [[brands]]")
        templates.append(template)
    return tuple(templates) or shipped_replies()


def _done(table: Table, value):
    table.done()
    return value


def _optional(table: Table | None, read, absent):
    return absent if table is None else _done(table, read(table))


def _read_model(table: Table | None) -> tuple[ModelSettings, float]:
    if table is None:
        return ModelSettings(), DEFAULT_CONFIDENCE
    label_map = table.get("label_map", dict, {}, "a table of model label = our label")
    for key, value in label_map.items():
        if value not in LABELS:
            raise table.problem(f"label_map.{key}", f"expected negative, neutral or positive, got {value!r}")
    settings = read_fields(table, ModelSettings, given={"label_map": label_map})
    threshold = table.number("detractor_confidence", DEFAULT_CONFIDENCE, low=0.34, high=1.0)
    table.done()
    return settings, threshold


def _read_alerts(table: Table | None, brands: Mapping[str, Brand]) -> Alerts:
    if table is None:
        return Alerts()
    smtp_table = table.table("smtp")
    channels = tuple(_read_channel(t, brands) for t in table.tables("channels"))
    if len({c.name for c in channels}) != len(channels):
        raise table.problem("channels", "channel names must be unique")
    return _done(table, read_fields(table, Alerts, given={"smtp": _read_smtp(smtp_table) if smtp_table else None,
                                                          "channels": channels}))


def _read_learning(table: Table) -> Learning:
    learning = read_fields(table, Learning)
    resolve = lambda value: str(table.path_of(value))  # noqa: E731 - files named in the config are relative to it
    fields = {"sentiment_train": tuple(map(resolve, learning.sentiment_train)),
              "sentiment_validation": tuple(map(resolve, learning.sentiment_validation)),
              "detector_train": tuple(map(resolve, learning.detector_train))}
    validation = []
    for entry in learning.detector_validation:
        lang, _, file = entry.partition("=")
        if not (lang.isalpha() and 2 <= len(lang) <= 3 and file):
            raise table.problem("detector_validation", f"expected \"lang=path\" entries such as \"it=absita_val.jsonl\", "
                                                       f"got {entry!r}")
        validation.append(f"{lang}={resolve(file)}")
    if learning.models_dir is not None and learning.models_dir.exists() and not learning.models_dir.is_dir():
        raise table.problem("models_dir", f"{learning.models_dir} is a file; name a folder (it holds retrained heads)")
    return dataclasses.replace(learning, detector_validation=tuple(validation), **fields)


def _read_channel(table: Table, brands: Mapping[str, Brand]) -> Channel:
    channel = read_fields(table, Channel)
    if channel.type != "email" and not channel.url_env:
        raise table.problem("url_env", f"is required for {channel.type} channels (the environment variable holding "
                                       "the URL, e.g. ASCOLTO_SLACK_URL)")
    if channel.type == "email" and channel.url_env:
        raise table.problem("url_env", "is for chat and webhook channels; an email channel has recipients")
    unknown = [b for b in channel.brands if b not in brands]
    if unknown:
        raise table.problem("brands", f"no brand named {unknown[0]!r} in [[brands]]")
    table.done()
    return channel


def _read_smtp(table: Table) -> Smtp | None:
    smtp = read_fields(table, Smtp)
    if smtp.username and not smtp.password_env:
        raise table.problem("password_env", "is required with username (the name of the environment variable "
                                            "holding the password)")
    table.done()
    return smtp if smtp.host else None  # an empty host means: alerts stay in the outbox


# [surveys] keys that moved to [web] when the page began to serve alert actions too.
MOVED_TO_WEB = ("base_url", "host", "port", "secret_env")


def _read_surveys(table: Table, alerts: Alerts, web: Web | None) -> SurveySettings:
    for key in MOVED_TO_WEB:
        if key in table.data:
            raise table.problem(key, f"moved to [web] {key} (the page serves alert actions too)")
    if web is None:
        raise table.problem("", "needs a [web] table with base_url, the public address of the survey page")
    start, end = ContactPolicy.quiet_start_hour, ContactPolicy.quiet_end_hour
    quiet = table.get("quiet_hours", list, [start, end], "[start hour, end hour], e.g. [21, 9]")
    if len(quiet) != 2 or not all(isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 23 for h in quiet):
        raise table.problem("quiet_hours", f"expected [start hour, end hour] from 0 to 23, got {quiet!r}")
    policy = read_fields(table, ContactPolicy, given={"quiet_start_hour": quiet[0], "quiet_end_hour": quiet[1]})
    given = {"policy": policy, "base_url": web.base_url, "host": web.host, "port": web.port,
             "secret_env": web.secret_env}
    return read_fields(table, SurveySettings, given=given, defaults={"sender": alerts.sender})


def _read_source(table: Table, brands: Sequence[Brand]) -> SourceSettings:
    kind = table.string("type", choices=tuple(SOURCES))
    settings = read_fields(table, SOURCES[kind].Settings)
    for key, problem in settings.problems(brands):
        raise table.problem(key, problem)
    table.done()
    return settings
