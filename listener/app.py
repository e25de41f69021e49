"""What every job needs, built once per process: configuration, database, scorer, mailer, alert
channels, API clients, clock."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path

from listener.alerts.kinds import NOTICE_ALERT
from listener.alerts.routing import channels, routes
from listener.kernel.errors import AscoltoError, ConfigError, MissingCredential
from listener.kernel.secrets import signing_secret
from listener.kernel.times import iso, utc_now
from listener.rules import AlertRules
from listener.store.alerts import Route
from listener.store.database import connect, open_db

from .alerts.actions import action_links
from .alerts.channels.email import SmtpMailer
from .alerts.messages import Context
from .config import Config
from .sources.registry import source_module
from .themes.matching import ThemeMatcher

log = logging.getLogger(__name__)

_DEFAULT = object()


class OneAtATime:
    """A scorer that scores one batch at a time, whichever thread asks: the scheduler's collection
    pool fetches concurrently, but the cores and the model serve one batch (a second would only
    halve the speed of each, and not every backend is safe to call from two threads)."""

    def __init__(self, scorer, lock: threading.Lock):
        self.inner, self.lock = scorer, lock

    def score(self, texts):
        with self.lock:
            return self.inner.score(texts)

    def embed(self, texts):
        with self.lock:
            return self.inner.embed(texts)

    def __getattr__(self, name: str):  # name, detector, heads and what a backend adds
        return getattr(self.inner, name)


class App:
    """Tests hand in their own database, scorer, mailer (None: no SMTP) and clock."""

    def __init__(self, config: Config, *, now: Callable[[], datetime] = utc_now, scorer=_DEFAULT, db=_DEFAULT,
                 mailer=_DEFAULT, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self.now = now
        self.sleep = sleep  # between retries of a failed API call
        self._clients: dict[str, object] = {}
        # Set by SIGINT/SIGTERM: jobs finish the chunk in hand, commit it and return early.
        self.stopping = threading.Event()
        # One model, several threads (the scheduler's pools): one scores at a time, in whole batches.
        self.scoring = threading.Lock()
        self._injected_db = None if db is _DEFAULT else db
        self._local = threading.local()
        self._connections: list = []
        self._opening = threading.Lock()
        for name, value in (("scorer", scorer), ("mailer", mailer)):
            if value is not _DEFAULT:
                self.__dict__[name] = value  # pre-empts the cached_property below

    @property
    def db(self):
        """This thread's connection: the scheduler's pools (collection, dispatch, the rest) each write
        through their own, and SQLite serialises the writers (BEGIN IMMEDIATE, a busy timeout); one
        connection shared by threads would mix their transactions. The first opens and migrates."""
        if self._injected_db is not None:
            return self._injected_db
        connection = getattr(self._local, "db", None)
        if connection is None:
            with self._opening:
                try:
                    connection = open_db(self.config.database) if not self._connections else \
                        connect(self.config.database)
                except AscoltoError as exc:  # the key to change, in the file to change it in
                    raise ConfigError(self.config.path, "database.path", str(exc)) from None
                self._connections.append(connection)
            self._local.db = connection
        return connection

    @cached_property
    def scorer(self):
        # Loading a transformer takes seconds: only jobs that score pay for it, and only once.
        head = self.active_head_file
        return self.scorer_for(head if head != self.shipped_head_file else None)

    def scorer_for(self, head: Path | None = None):
        """A scorer of the configured model (with ``head``: a version retrained on corrections), in
        this process or, with ``[cluster]``, on Ray's workers (this process still writes)."""
        from sentiment.runtime.loading import load_scorer

        settings = self.config.model if head is None else dataclasses.replace(self.config.model, head=head)
        if self.config.cluster is not None:
            from sentiment.runtime.cluster import ClusterScorer, ClusterSettings

            c = self.config.cluster
            return OneAtATime(ClusterScorer(settings, ClusterSettings(c.address, c.workers, c.cpus_per_worker,
                                                                       c.sub_batch)), self.scoring)
        return OneAtATime(load_scorer(settings), self.scoring)

    @cached_property
    def shipped_head_file(self) -> Path | None:
        """The head the configuration names, or the offline model's own; None for a hub classifier,
        which has no heads to retrain."""
        from sentiment.runtime.loading import DEFAULT_HEAD, OFFLINE, resolve_name

        if self.config.model.head is not None:
            return self.config.model.head
        return DEFAULT_HEAD if resolve_name(self.config.model.name) == OFFLINE else None

    @cached_property
    def active_head_file(self) -> Path | None:
        """The head file of the active model version (see listener.learning)."""
        from listener.learning.versions import register_shipped, usable_head

        shipped = self.shipped_head_file
        if shipped is None:
            return None
        now = iso(self.now())
        register_shipped(self.db, f"shipped:{shipped.stem}", shipped, now)
        return usable_head(self.db, shipped, self.routes_for(NOTICE_ALERT), now)

    @cached_property
    def theme_matcher(self) -> ThemeMatcher:
        """The configuration's themes, their examples embedded by the scorer (once per process)."""
        return ThemeMatcher.build(self.config.themes, self.config.theme_matching, self.scorer)

    def reload_scorer(self) -> None:
        """After a new model version is adopted: the next score loads it."""
        for name in ("scorer", "active_head_file", "theme_matcher"):
            self.__dict__.pop(name, None)

    @cached_property
    def mailer(self) -> SmtpMailer | None:
        smtp = self.config.alerts.smtp
        return SmtpMailer(smtp) if smtp else None

    def client_for(self, source):
        """The API client of a source (tweepy.Client, praw.Reddit, ...), made once per process."""
        if source.name not in self._clients:
            self._clients[source.name] = source_module(source.kind).make_client(source)
        return self._clients[source.name]

    @cached_property
    def alert_rules(self) -> AlertRules:
        brands = self.config.brands
        return AlertRules(self.config.detractor_confidence, {b.name: b.alert_preset for b in brands},
                          {b.name: b.low_rating_alerts for b in brands}, {b.name: b.languages[0] for b in brands})

    @cached_property
    def channels(self) -> tuple:
        return channels(self.config.alerts, self.config.reports)

    @cached_property
    def senders(self) -> dict:
        """Alert channel name -> the channel that sends (None: an email channel without SMTP). A chat
        channel whose URL is malformed is a configuration error (AscoltoError naming its variable):
        commands that send check it before anything else (``check_channels``)."""
        from .alerts.channels.registry import channel_module

        return {channel.name: channel_module(channel.type).make_sender(channel, self.mailer, self.config.alerts.sender)
                for channel in self.channels}

    def check_channels(self) -> None:
        """Fail at once, in one line, on a channel URL no sender understands (never at 3 a.m.)."""
        self.senders  # noqa: B018 - building the senders reads and checks every channel's URL

    def routes_for(self, kind: str, brand: str | None = None, source: str | None = None,
                   lang: str | None = None) -> list[Route]:
        return routes(self.channels, kind, self.config.brand_by_name.get(brand or ""), source, lang)

    def message_context(self) -> Context:
        """Brands, the sender, and signed action links where [web] and its secret are set."""
        web, alerts = self.config.web, self.config.alerts
        links = None
        if web is not None:
            try:
                secret = signing_secret(web.secret_env)
            except MissingCredential as exc:
                log.warning("alerts go out without action links: %s", exc)
            else:
                links = action_links(web.base_url, secret, self.now(), alerts.action_link_days)
        taxonomy = self.config.themes

        def theme_label(theme: str, lang: str) -> str:
            found = taxonomy.get(theme)
            return found.label(lang) if found else theme

        return Context(self.config.brand_by_name, alerts.sender, links, alerts.datasette_url, theme_label, self.now())

    def case_due(self) -> datetime:
        return self.now() + timedelta(hours=self.config.alerts.case_due_hours)

    def group_since(self) -> str | None:
        """A person's case opened since then takes their new texts: one case per grouping window."""
        window = self.config.alerts.group_window_minutes
        return iso(self.now() - timedelta(minutes=window)) if window else None

    def close(self) -> None:
        with self._opening:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()
