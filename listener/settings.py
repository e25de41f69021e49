"""The settings the configuration file fills in: dataclasses whose fields hold their own defaults.

Each default, bound and choice is written once, in the field (``setting(...)``); ``listener.config``
reads any of these classes generically from a TOML table and reports a bad value as one line that
names the file and the key. The field metadata keys are plain strings, so that ``sentiment`` and
``surveys``, which may not import this module, describe their settings the same way:

- ``low`` / ``high``: bounds of a number;
- ``choices``: the allowed values of a string, or of every string of a list;
- ``path``: a file or folder, relative to the configuration file;
- ``check``: a function of the value returning a problem (text) or None;
- ``convert``: a function applied to the value read, before ``check``;
- ``expected``: how to describe the expected value in a message.

Secrets are never settings: a setting names the environment variable that holds one, and
``listener.kernel.secrets.read_secret`` reads it when it is needed.
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from sentiment.runtime.detector import DEFAULT_PRESET, PRESETS

LANGUAGES = ("it", "en")
DEFAULT_TIMEZONE = "Europe/Rome"


def setting(default=dataclasses.MISSING, **metadata):
    """A dataclass field with its default (none: the key is required) and how to check it."""
    if isinstance(default, list):
        default = tuple(default)
    return field(default=default, metadata=metadata)


def time_zone_problem(name: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"expected an IANA time zone such as {DEFAULT_TIMEZONE}, got {name!r}"
    return None


@dataclass(frozen=True, kw_only=True)
class Brand:
    name: str = setting()
    keywords: tuple[str, ...] = setting(expected="a list of words, handles and hashtags")
    exclude: tuple[str, ...] = setting(())  # phrases that mean something else ("aurora boreale")
    languages: tuple[str, ...] = setting(LANGUAGES, choices=LANGUAGES)
    alert_language: str = setting("it", choices=LANGUAGES)
    recipients: tuple[str, ...] = setting(())  # extra recipients for this brand's alerts
    timezone: str = setting(DEFAULT_TIMEZONE, check=time_zone_problem)  # quiet hours, daily caps are local
    # How readily a mention raises an alert: sensitive, balanced or strict (the detector's presets).
    alert_preset: str = setting(DEFAULT_PRESET, choices=tuple(PRESETS))
    low_rating_alerts: bool = setting(True)  # a 1-2 star review alerts whatever its text says
    review_url: str = setting("", check=lambda url: None if not url or url.startswith("https://") else
                              f"expected an https:// address (the brand's public review page), got {url!r}")

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(frozen=True, kw_only=True)
class Learning:
    """The model learns from the team: every night, when enough newly corrected texts exist, its heads
    are retrained on them (and on the training files listed here), and the new version is adopted only
    if it passes the shipped gate set and is at least as good on the validation files and on the
    corrections held back from training (``listener.learning.retrain``)."""

    enabled: bool = setting(True)
    min_corrections: int = setting(30, low=1)  # texts corrected since the active version (not clicks)
    min_people: int = setting(2, low=1)  # who corrected them, where the team has had that many correctors
    max_texts_per_person: int = setting(50, low=1)  # one person's corrections weigh at most this many texts
    holdout_share: float = setting(0.25, low=0.05, high=0.5)  # of the corrections, kept to check the new version
    hour: int = setting(3, low=0, high=23)  # local time of the nightly retrain and the near-miss list
    models_dir: Path | None = setting(None, path=True)  # default: a folder beside the database
    sentiment_train: tuple[str, ...] = setting(())  # labelled JSONL files trained on with the corrections
    sentiment_validation: tuple[str, ...] = setting(())
    detector_train: tuple[str, ...] = setting(())
    detector_validation: tuple[str, ...] = setting(())  # "lang=path": the language each file calibrates
    near_miss_share: float = setting(0.6, low=0.1, high=0.99)  # a near miss reached this share of its threshold
    near_miss_max: int = setting(20, low=1)  # mentions in a day's near-miss list, per brand


@dataclass(frozen=True, kw_only=True)
class Web:
    """The pages Ascolto serves: survey answers and the actions of alert links."""

    base_url: str = setting(check=lambda url: None if url.startswith(("https://", "http://"))
                            else f"expected an http(s) URL, got {url!r}")  # the public address in links
    host: str = setting("127.0.0.1")
    port: int = setting(8080, low=1, high=65535)
    secret_env: str = setting("ASCOLTO_SECRET")  # signs every link; `openssl rand -hex 32`


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, kw_only=True)
class Reports:
    """The weekly digest to marketers."""

    recipients: tuple[str, ...] = setting()
    weekday: str = setting("mon", choices=WEEKDAYS)
    hour: int = setting(9, low=0, high=23)
    timezone: str = setting(DEFAULT_TIMEZONE, check=time_zone_problem)
    period_days: int = setting(28, low=1, high=366)  # NPS moves slowly: 4 weeks, compared with the 4 before


@dataclass(frozen=True, kw_only=True)
class Cluster:
    """``[cluster]``: score on Ray (``pip install 'ascolto[cluster]'``). Without the table nothing changes
    and Ray is never imported. The cluster belongs on a trusted network (README, "Past one machine")."""

    address: str = setting("local")  # "local": Ray on this machine; "auto": this node's cluster; "ray://host:10001"
    workers: int = setting(2, low=1, high=1024)  # actors, each with the model loaded once
    cpus_per_worker: float = setting(1.0, low=0.25, high=64)
    sub_batch: int = setting(64, low=1, high=4096)  # texts per call to an actor


@dataclass(frozen=True, kw_only=True)
class Scheduler:
    dispatch_interval_minutes: float = setting(1.0, low=0.1)
    # Sources collected at once (each source one at a time): waiting for APIs overlaps, scoring does
    # not (one batch at a time), and a hanging source holds only its own worker.
    collect_workers: int = setting(4, low=1, high=32)


@dataclass(frozen=True, kw_only=True)
class ThemeMatching:
    """How texts get themes (``[theme_matching]``). A theme is assigned when the text's similarity to
    its examples, plus ``keyword_boost`` if one of its keywords appears, reaches ``threshold``. The
    threshold was chosen for the shipped model on the development half of
    tests/fixtures/themes/labelled.jsonl (`ascolto themes evaluate --choose-on dev`)."""

    threshold: float = setting(0.97, low=0.0, high=2.0)
    keyword_boost: float = setting(1.0, low=0.0, high=2.0)
    max_themes: int = setting(3, low=1, high=10)  # per text, the best ones
    retail_themes: bool = setting(True)  # the shipped retail themes, when the file has no [[themes]]
    discovery_min_size: int = setting(5, low=2)  # texts a candidate theme needs
    discovery_days: int = setting(28, low=1)  # the window discovery clusters
