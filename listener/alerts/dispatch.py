"""Sending the outbox: what is due, as messages people act on rather than a flood.

Per channel and target (an email address, or a chat channel):

- deliveries in ``hourly`` or ``daily`` mode wait for their digest, one message for all of them;
- in a channel's quiet hours (the brand's local time) non-urgent alerts wait for the morning;
- alerts about the same author (or customer) become one message; after one went out, the next ones
  about that author wait until the grouping window closes and then go together;
- at most ``hourly_cap`` messages per brand and hour; the rest become one roll-up message, and past
  that they wait for the next hour.

A delivery is marked sent in its own commit right after its channel accepts it. A transient failure
(server down, 4xx, 429) pushes its next attempt back, doubling up to a cap, for as long as it takes:
an outage delays alerts, it never drops them. A permanent failure (5xx, a refused address) stops
retrying and stays visible as 'failed' with the reply; so does a message that cannot be built. A
failing channel never holds up another, and a delivery is never sent twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from listener.alerts.kinds import GROUPED_KINDS, RESPONSE_ALERT, URGENT_KINDS
from listener.alerts.settings import Alerts, Channel
from listener.kernel.delivery import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from listener.kernel.hours import quiet_at
from listener.kernel.times import iso, parse_timestamp
from listener.store.alerts import (
    Due,
    defer,
    due,
    last_digest,
    mark_failed,
    mark_sent,
    pending_count,
    sent_in_hour,
    sent_since,
)

from .messages import Context, compose

log = logging.getLogger(__name__)


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


def due_by_channel(db: sqlite_utils.Database, now: str) -> dict[str, list[Due]]:
    by_channel: dict[str, list[Due]] = defaultdict(list)
    for item in due(db, now):
        by_channel[item.delivery.channel].append(item)
    return by_channel


def dispatch(db: sqlite_utils.Database, settings: Alerts, channels: Sequence[Channel], senders: Mapping,
             context: Context, now: datetime) -> Dispatch:
    """Send what is due through ``senders`` (channel name -> channel; None: email without SMTP)."""
    result = Dispatch(smtp_configured=all(senders.get(c.name) is not None for c in channels if c.type == "email"))
    known = {channel.name: channel for channel in channels}
    for name, items in due_by_channel(db, iso(now)).items():
        channel, sender = known.get(name), senders.get(name)
        if channel is None:  # renamed or removed from the configuration: say so instead of waiting forever
            _record(db, items, PermanentDeliveryError(f"channel {name!r} is no longer configured"), now, settings,
                    result)
        elif sender is not None:
            _send(db, channel, sender, plan(db, channel, settings, context, items, now), context, now, settings,
                  result)
    result.pending = pending_count(db)
    return result


# ---- what goes out now, in which messages --------------------------------------------------------

def plan(db, channel: Channel, settings: Alerts, context: Context, items: list[Due], now: datetime) -> list[Planned]:
    planned = []
    by_target: dict[str, list[Due]] = defaultdict(list)
    for item in items:
        by_target[item.delivery.target].append(item)
    for target, mine in by_target.items():
        held = [i for i in mine if i.delivery.mode != "immediate"]
        if held and _digest_due(db, channel, target, held[0].delivery.mode, settings, context, now):
            planned.append(Planned("digest", target, held))
        awake = [i for i in mine if i.delivery.mode == "immediate" and not _quiet(channel, i, context, now)]
        planned += [Planned("single", target, [i]) for i in awake if i.alert.kind not in GROUPED_KINDS]
        planned += _grouped(db, channel, settings, target, [i for i in awake if i.alert.kind in GROUPED_KINDS], now)
    return planned


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


def _grouped(db, channel: Channel, settings: Alerts, target: str, items: list[Due], now: datetime) -> list[Planned]:
    window = timedelta(minutes=settings.group_window_minutes)
    groups: dict[tuple, list[Due]] = defaultdict(list)
    for item in items:
        groups[group_key(item, bool(window))].append(item)
    recent = _recently_sent(db, channel.name, target, now - window) if window else {}
    by_brand: dict[str, list[list[Due]]] = defaultdict(list)
    for key, members in groups.items():
        if key in recent:  # this person was just alerted about: the rest waits and goes as one message
            _defer(db, members, recent[key] + window)
        else:
            by_brand[key[0]].append(members)
    planned = []
    for brand, member_lists in by_brand.items():
        sent, last_rollup, first_sent = _sent_this_hour(db, channel.name, target, brand, now)
        allowed = max(settings.hourly_cap - sent, 0)
        planned += [Planned("single" if len(m) == 1 else "group", target, m) for m in member_lists[:allowed]]
        rest = [item for members in member_lists[allowed:] for item in members]
        if rest and last_rollup is None:
            planned.append(Planned("rollup", target, rest))
        elif rest:  # this hour's roll-up went out already: the rest waits for the next hour
            _defer(db, rest, first_sent + timedelta(hours=1))
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


def _defer(db, items: Sequence[Due], until: datetime) -> None:
    defer(db, [item.delivery.id for item in items], iso(until))


# ---- sending -------------------------------------------------------------------------------------

def _send(db, channel: Channel, sender, planned: list[Planned], context: Context, now: datetime, settings: Alerts,
          result: Dispatch) -> None:
    if not planned:
        return
    try:
        with sender.session() as send:
            for index, message in enumerate(planned):
                try:
                    outgoing = compose(message.bundle, message.items, context)
                except Exception as exc:  # one bad record never stops the others: it is recorded, failed
                    log.exception("alert message for deliveries %s cannot be built",
                                  [i.delivery.id for i in message.items])
                    _record(db, message.items, PermanentDeliveryError(f"cannot build the message: "
                                                                      f"{type(exc).__name__}: {exc}"), now, settings,
                            result)
                    continue
                try:
                    send(outgoing, message.target)
                except PermanentDeliveryError as exc:
                    _record(db, message.items, exc, now, settings, result)
                    continue
                except TransientDeliveryError as exc:  # the session is likely gone: the rest waits
                    _record(db, [i for m in planned[index:] for i in m.items], exc, now, settings, result)
                    return
                _mark_sent(db, message, outgoing.message_id, now)
                result.sent += len(message.items)
                result.messages += 1
    except DeliveryError as exc:  # could not connect or log in: nothing was sent, and nothing is dropped
        _record(db, [i for m in planned for i in m.items], TransientDeliveryError(str(exc)), now, settings, result)


def backoff(attempts: int, settings: Alerts) -> timedelta:
    return timedelta(seconds=min(settings.retry_seconds * 2 ** max(attempts - 1, 0), settings.max_retry_seconds))


def _mark_sent(db, message: Planned, message_id: str, now: datetime) -> None:
    mark_sent(db, [item.delivery.id for item in message.items], message_id, message.bundle, iso(now))


def _record(db, items: Sequence[Due], error: Exception, now: datetime, settings: Alerts, result: Dispatch) -> None:
    permanent = isinstance(error, PermanentDeliveryError)
    mark_failed(db, [item.delivery for item in items], str(error), permanent,
                {item.delivery.id: iso(now + backoff(item.delivery.attempts + 1, settings)) for item in items})
    if permanent:
        result.failed += len(items)
        log.error("alert deliveries %s failed for good: %s", [i.delivery.id for i in items], error)
    else:
        result.retrying += len(items)
        result.error = str(error)
        log.warning("alert deliveries %s not sent, will retry: %s", [i.delivery.id for i in items], error)
