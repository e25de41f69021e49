"""Sending the outbox: what is due, as messages people act on rather than a flood, each delivery once.

A dispatcher first claims what is due, in a write transaction with a lease (``store.alerts.claim_due``):
several dispatchers at once (two `alerts send`, a `run --once` beside the scheduler) never send a
delivery twice, and a crashed one's claim runs out and is taken over. Before each message it renews
its lease, and it sends only what it still holds.

Per channel and target (an email address, or a chat channel):

- deliveries in ``hourly`` or ``daily`` mode wait for their digest (paged: a message holds at most
  ``PAGE`` alerts);
- in a channel's quiet hours (the brand's local time) non-urgent alerts wait for the morning;
- alerts about the same author (or customer) become one message; after one went out, the next ones
  about that author wait until the grouping window closes and then go together;
- at most ``hourly_cap`` messages per brand and hour; the rest become one roll-up message, and past
  that they wait for the next hour;
- alerts about texts older than ``backlog_after_hours`` (a first run's history, a backfill) go, after
  the fresh ones, into one backlog list that the cap does not count: history is read, not paged.

What waits says why (``deliveries.held``), for ``ascolto alerts list``.

A delivery is marked sent in its own commit right after its channel accepts it. What a failure
means is the channel's to say (``listener.kernel.delivery``): a message refused for good fails
alone; one refused as too large is split (a bundle) or cut (one alert) and tried again; one to try
later backs off alone; a channel that takes nothing now holds its remaining messages, each with its
own doubling back-off: an outage delays alerts, it never drops them, and one message never holds up
the others. A delivery whose channel was removed from the configuration goes through the channels
that route its alert now.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlite_utils

from listener.alerts.kinds import GROUPED_KINDS, NEAR_MISSES_ALERT, RESPONSE_ALERT, URGENT_KINDS
from listener.alerts.settings import Alerts, Channel
from listener.kernel.delivery import ChannelUnavailable, DeliveryError, PermanentDeliveryError
from listener.kernel.hours import quiet_at
from listener.kernel.times import iso, parse_timestamp
from listener.store.alerts import (
    Alert,
    Due,
    Route,
    claim_due,
    defer,
    hold,
    last_digest,
    mark_failed,
    mark_sent,
    pending_count,
    release,
    reroute,
    sent_in_hour,
    sent_since,
    still_held,
)
from listener.store.mentions import StoredMention

from .messages import Context, compose

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=10)  # a claim's life; renewed before each message
PAGE = 40  # alerts in one digest or roll-up message at most
BACKLOG_PAGE = 100  # lines of one backlog list: a first run is one message (about 40 KB, under Gmail's 102 KB clip)


@dataclass
class Dispatch:
    sent: int = 0  # deliveries sent
    messages: int = 0  # the messages they went out in
    retrying: int = 0
    failed: int = 0
    pending: int = 0  # still in the outbox after this run
    smtp_configured: bool = True
    error: str | None = None  # the last transient error, for the summary line


@dataclass
class Planned:
    bundle: str  # single, group, rollup, digest
    target: str
    items: list[Due]
    cut: bool = False  # quotes cut short: a message the channel refused as too large, tried again


@dataclass
class Run:
    """One dispatch run: who it is (its claims' owner), when, and what it has done so far."""

    db: sqlite_utils.Database
    settings: Alerts
    context: Context
    now: datetime
    owner: str
    result: Dispatch

    def lease_until(self) -> str:
        return iso(self.now + LEASE)


LATER_KINDS = (*GROUPED_KINDS, NEAR_MISSES_ALERT)  # not sent as plain singles first

Reroute = Callable[[Alert, StoredMention | None], Sequence[Route]]


def dispatch(db: sqlite_utils.Database, settings: Alerts, channels: Sequence[Channel], senders: Mapping,
             context: Context, now: datetime, routes: Reroute | None = None) -> Dispatch:
    """Send what is due through ``senders`` (channel name -> channel; None: email without SMTP);
    ``routes(alert, mention)`` routes the alerts of a channel no longer configured."""
    result = Dispatch(smtp_configured=all(senders.get(c.name) is not None for c in channels if c.type == "email"))
    run = Run(db, settings, context, now, f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}", result)
    known = {channel.name: channel for channel in channels}
    try:
        by_channel: dict[str, list[Due]] = defaultdict(list)
        for item in claim_due(db, iso(now), run.owner, run.lease_until()):
            by_channel[item.delivery.channel].append(item)
        for name, items in by_channel.items():
            channel, sender = known.get(name), senders.get(name)
            if channel is None:  # renamed or removed from the configuration: the channels that route it now
                _reroute(run, items, routes)
            elif sender is not None:
                _send(run, channel, sender, plan(run, channel, items))
    finally:
        release(db, run.owner)  # what was claimed and neither sent nor deferred waits for the next run
    result.pending = pending_count(db)
    return result


def _reroute(run: Run, items: Sequence[Due], routes: Reroute | None) -> None:
    """Nothing is dropped by a configuration change: each alert waiting for a channel that no longer
    exists gets the deliveries the current channels would have given it, due now."""
    for item in items:
        current = list(routes(item.alert, item.mention)) if routes is not None else []
        if current:
            reroute(run.db, item.delivery.id, current, iso(run.now), run.owner)
            log.info("alert %s: channel %r is no longer configured; sent through %s instead", item.alert.id,
                     item.delivery.channel, ", ".join(sorted({r.channel for r in current})))
        else:
            _record(run, [item], PermanentDeliveryError(
                f"channel {item.delivery.channel!r} is no longer configured and no configured channel routes "
                f"this alert"))


# ---- what goes out now, in which messages --------------------------------------------------------

def plan(run: Run, channel: Channel, items: list[Due]) -> list[Planned]:
    """The messages that go out now; what waits (quiet hours, grouping window, cap) is deferred."""
    db, settings, context, now = run.db, run.settings, run.context, run.now
    planned = []
    by_target: dict[str, list[Due]] = defaultdict(list)
    for item in items:
        by_target[item.delivery.target].append(item)
    for target, mine in by_target.items():
        held = [i for i in mine if i.delivery.mode != "immediate"]
        if held and _digest_due(db, channel, target, held[0].delivery.mode, settings, context, now):
            planned += [Planned("digest", target, page) for page in _pages(held)]
        elif held:
            hold(db, [i.delivery.id for i in held], run.owner, f"waits for the {held[0].delivery.mode} digest")
        immediate = [i for i in mine if i.delivery.mode == "immediate"]
        quiet = [i for i in immediate if _quiet(channel, i, context, now)]
        if quiet:
            hold(db, [i.delivery.id for i in quiet], run.owner, "quiet hours of the channel")
        awake = [i for i in immediate if i not in quiet]
        old = [i for i in awake if i.alert.kind in GROUPED_KINDS and _is_old(i, settings, now)]
        fresh = [i for i in awake if i not in old]
        planned += [Planned("single", target, [i]) for i in fresh if i.alert.kind not in LATER_KINDS]
        planned += _grouped(run, channel, target, [i for i in fresh if i.alert.kind in GROUPED_KINDS])
        # After the fresh ones, and not counted against the cap: history is read, not paged.
        old.sort(key=_written_at, reverse=True)
        planned += [Planned("backlog", target, page) for page in _pages(old, BACKLOG_PAGE)]
        # Last: what might be a complaint comes after what is one.
        planned += [Planned("single", target, [i]) for i in fresh if i.alert.kind == NEAR_MISSES_ALERT]
    return planned


def _written_at(item: Due) -> str:
    """When the text an alert is about was written: the post, the survey answer (else the alert)."""
    if item.mention is not None:
        return item.mention.created_at
    return item.alert.details.get("answered_at") or item.alert.created_at


def _is_old(item: Due, settings: Alerts, now: datetime) -> bool:
    """About a text older than ``backlog_after_hours``: a first run's history or a backfill."""
    return parse_timestamp(_written_at(item)) < now - timedelta(hours=settings.backlog_after_hours)


def _pages(items: list[Due], size: int = PAGE) -> list[list[Due]]:
    """A digest or roll-up in messages of at most ``size`` alerts: a channel can take each one."""
    return [items[start:start + size] for start in range(0, len(items), size)]


def _quiet(channel: Channel, item: Due, context: Context, now: datetime) -> bool:
    if not channel.quiet_hours or item.alert.kind in URGENT_KINDS:
        return False
    start, end = channel.quiet_hours
    return quiet_at(now, context.brand(item.alert.brand).zone, start, end)


def group_key(item: Due, grouping: bool = True) -> tuple:
    """Alerts about the same person, per brand: a mention's author, a survey answer's customer."""
    if not grouping:
        return item.alert.brand, "alert", item.alert.id
    if item.mention is not None and item.mention.author:
        return item.alert.brand, "author", item.mention.source, item.mention.author.casefold()
    email = item.alert.details.get("email")
    if item.alert.kind == RESPONSE_ALERT and email:
        return item.alert.brand, "customer", email.casefold()
    return item.alert.brand, "alert", item.alert.id


def _grouped(run: Run, channel: Channel, target: str, items: list[Due]) -> list[Planned]:
    db, settings, now = run.db, run.settings, run.now
    window = timedelta(minutes=settings.group_window_minutes)
    groups: dict[tuple, list[Due]] = defaultdict(list)
    for item in items:
        groups[group_key(item, bool(window))].append(item)
    recent = _recently_sent(db, channel.name, target, now - window) if window else {}
    by_brand: dict[str, list[list[Due]]] = defaultdict(list)
    for key, members in groups.items():
        if key in recent:  # this person was just alerted about: the rest waits and goes as one message
            _defer(run, members, recent[key] + window, "grouping window: goes with the next ones about this person")
        else:
            by_brand[key[0]].append(members)
    planned = []
    for brand, member_lists in by_brand.items():
        sent, last_rollup, first_sent = _sent_this_hour(db, channel.name, target, brand, now)
        allowed = max(settings.hourly_cap - sent, 0)
        planned += [Planned("single" if len(m) == 1 else "group", target, m) for m in member_lists[:allowed]]
        rest = [item for members in member_lists[allowed:] for item in members]
        if rest and last_rollup is None:
            planned += [Planned("rollup", target, page) for page in _pages(rest)]
        elif rest:  # this hour's roll-up went out already: the rest waits for the next hour
            _defer(run, rest, first_sent + timedelta(hours=1), "hourly cap reached and its roll-up sent")
    return planned


def _recently_sent(db, channel: str, target: str, since: datetime) -> dict[tuple, datetime]:
    latest: dict[tuple, datetime] = {}
    for sent in sent_since(db, channel, target, iso(since)):
        mention = _Author(sent.author, sent.source) if sent.author else None
        key = group_key(Due(None, sent.alert, mention))
        latest[key] = max(latest.get(key, datetime.min.replace(tzinfo=since.tzinfo)), parse_timestamp(sent.sent_at))
    return latest


@dataclass(frozen=True)
class _Author:
    """Who a sent message was about: all that grouping needs of its mention."""

    author: str
    source: str


def _sent_this_hour(db, channel: str, target: str, brand: str, now: datetime):
    """(messages sent, last roll-up, first send) to this target about this brand in the last hour."""
    count, last_rollup, first = sent_in_hour(db, channel, target, brand, iso(now - timedelta(hours=1)))
    return count, last_rollup, parse_timestamp(first) if first else now


def _digest_due(db, channel: Channel, target: str, mode: str, settings: Alerts, context: Context,
                now: datetime) -> bool:
    last = last_digest(db, channel.name, target)
    last = parse_timestamp(last) if last else None
    if mode == "hourly":
        return last is None or now - last >= timedelta(hours=1)
    zone = next(iter(context.brands.values())).zone if context.brands else None
    local = now.astimezone(zone)
    today = local.replace(hour=settings.daily_digest_hour, minute=0, second=0, microsecond=0)
    return local >= today and (last is None or last < today)


def _defer(run: Run, items: Sequence[Due], until: datetime, why: str) -> None:
    defer(run.db, [item.delivery.id for item in items], iso(until), run.owner, why)


# ---- sending ----------------------------------------------------------------------------------

def _send(run: Run, channel: Channel, sender, planned: list[Planned]) -> None:
    queue = list(planned)
    try:
        with sender.session() as send:
            while queue:
                message = queue.pop(0)
                if not still_held(run.db, [i.delivery.id for i in message.items], run.owner, run.lease_until()):
                    continue  # another dispatcher took these over after our lease ran out: theirs now
                outcome = _send_one(run, send, message)
                if isinstance(outcome, list):  # too large: smaller messages, tried next
                    queue[0:0] = outcome
                elif outcome is not None:  # the channel takes nothing now: the rest waits
                    _record(run, [i for m in queue for i in m.items], outcome)
                    return
    except DeliveryError as exc:  # could not connect or log in: nothing was sent, and nothing is dropped
        _record(run, [i for m in queue for i in m.items], ChannelUnavailable(str(exc)))


def _send_one(run: Run, send, message: Planned):
    """Send one message. None: done (sent, or failed alone); a list: the smaller messages to send
    instead; a DeliveryError: the channel is down."""
    try:
        outgoing = compose(message.bundle, message.items, run.context, cut=message.cut)
    except Exception as exc:  # one bad record never stops the others: it is recorded, failed
        log.exception("alert message for deliveries %s cannot be built", [i.delivery.id for i in message.items])
        _record(run, message.items, PermanentDeliveryError(f"cannot build the message: {type(exc).__name__}: {exc}"))
        return None
    try:
        send(outgoing, message.target)
    except DeliveryError as exc:
        if exc.too_large and (smaller := _smaller(message)):
            log.warning("deliveries %s: %s; trying %s", [i.delivery.id for i in message.items], exc,
                        "it cut short" if len(smaller) == 1 else "it in two parts")
            return smaller
        if exc.channel_down:
            _record(run, message.items, exc)
            return exc
        _record(run, message.items, exc)
        return None
    mark_sent(run.db, [item.delivery.id for item in message.items], outgoing.message_id, message.bundle,
              iso(run.now), run.owner)
    run.result.sent += len(message.items)
    run.result.messages += 1
    return None


def _smaller(message: Planned) -> list[Planned] | None:
    """A message refused as too large, again: a bundle in two halves, one alert with its quote cut
    short; None when neither is left to try."""
    if len(message.items) > 1:
        half = len(message.items) // 2
        bundle = message.bundle if message.bundle != "group" else "rollup"
        return [replace(message, bundle=bundle, items=message.items[:half]),
                replace(message, bundle=bundle, items=message.items[half:])]
    if not message.cut:
        return [replace(message, cut=True)]
    return None


def backoff(attempts: int, settings: Alerts) -> timedelta:
    return timedelta(seconds=min(settings.retry_seconds * 2 ** max(attempts - 1, 0), settings.max_retry_seconds))


def _record(run: Run, items: Sequence[Due], error: Exception) -> None:
    """Each delivery's failure, with its own back-off (its own number of attempts)."""
    if not items:
        return
    permanent = getattr(error, "permanent", False)
    mark_failed(run.db, [item.delivery for item in items], str(error), permanent,
                {item.delivery.id: iso(run.now + backoff(item.delivery.attempts + 1, run.settings)) for item in items},
                run.owner)
    if permanent:
        run.result.failed += len(items)
        log.error("alert deliveries %s failed for good: %s", [i.delivery.id for i in items], error)
    else:
        run.result.retrying += len(items)
        run.result.error = str(error)
        log.warning("alert deliveries %s not sent, will retry: %s", [i.delivery.id for i in items], error)
