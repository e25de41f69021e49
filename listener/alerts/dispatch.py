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

import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from listener.kernel.delivery import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from listener.kernel.hours import quiet_at
from listener.kernel.times import iso, parse_timestamp

from ..settings import Alerts, Channel
from .messages import Context, Item, compose
from .outbox import DETRACTOR_ALERT, RESPONSE_ALERT, pending_count
from .routing import URGENT_KINDS

log = logging.getLogger(__name__)
GROUPED_KINDS = (DETRACTOR_ALERT, RESPONSE_ALERT)  # the kinds grouped by author and counted against the cap


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
    items: list[Item]


def dispatch(db: sqlite_utils.Database, settings: Alerts, channels: Sequence[Channel], senders: Mapping,
             context: Context, now: datetime) -> Dispatch:
    """Send what is due through ``senders`` (channel name -> channel; None: email without SMTP)."""
    result = Dispatch(smtp_configured=all(senders.get(c.name) is not None for c in channels if c.type == "email"))
    known = {channel.name: channel for channel in channels}
    for name, items in due_items(db, iso(now)).items():
        channel, sender = known.get(name), senders.get(name)
        if channel is None:  # renamed or removed from the configuration: say so instead of waiting forever
            _record(db, items, PermanentDeliveryError(f"channel {name!r} is no longer configured"), now, settings,
                    result)
        elif sender is not None:
            _send(db, channel, sender, plan(db, channel, settings, context, items, now), context, now, settings,
                  result)
    result.pending = pending_count(db)
    return result


# ---- what is due ---------------------------------------------------------------------------------

def due_items(db: sqlite_utils.Database, now: str) -> dict[str, list[Item]]:
    rows = list(db.query(
        "select d.*, a.kind, a.subject, a.mention_id, a.brand, a.details, a.created_at as alert_created_at "
        "from deliveries d join alerts a on a.id = d.alert_id "
        "where d.status = 'pending' and d.next_attempt_at <= ? order by d.id", [now]))
    mentions = _by_id(db, "mentions", "id", {r["mention_id"] for r in rows if r["mention_id"]})
    cases = {(c["kind"], c["subject_id"]): c for c in _by_id(db, "cases", "subject_id", {
        r["mention_id"] or r["subject"].split(":")[-1] for r in rows if r["kind"] in GROUPED_KINDS}, by_row=True)}
    items: dict[str, list[Item]] = defaultdict(list)
    for row in rows:
        alert = {"id": row["alert_id"], "kind": row["kind"], "subject": row["subject"], "brand": row["brand"],
                 "mention_id": row["mention_id"], "created_at": row["alert_created_at"],
                 "details": json.loads(row["details"] or "{}")}
        delivery = {k: row[k] for k in ("id", "alert_id", "channel", "target", "mode", "attempts", "created_at")}
        case_key = ("mention", row["mention_id"]) if row["mention_id"] else ("response", row["subject"].split(":")[-1])
        items[row["channel"]].append(Item(delivery, alert, mentions.get(row["mention_id"]), cases.get(case_key)))
    return items


def _by_id(db, table: str, key: str, ids: set, by_row: bool = False):
    """The rows of ``table`` whose ``key`` is one of ``ids``: by key, or as a list (``by_row``)."""
    found = []
    ids = list(ids)
    for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
        chunk = ids[start:start + 500]
        found += db.query(f"select * from {table} where {key} in ({','.join('?' * len(chunk))})", chunk)
    return found if by_row else {row[key]: row for row in found}


# ---- what goes out now, in which messages --------------------------------------------------------

def plan(db, channel: Channel, settings: Alerts, context: Context, items: list[Item], now: datetime) -> list[Planned]:
    planned = []
    by_target: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_target[item.delivery["target"]].append(item)
    for target, mine in by_target.items():
        held = [i for i in mine if i.delivery["mode"] != "immediate"]
        if held and _digest_due(db, channel, target, held[0].delivery["mode"], settings, context, now):
            planned.append(Planned("digest", target, held))
        awake = [i for i in mine if i.delivery["mode"] == "immediate" and not _quiet(channel, i, context, now)]
        planned += [Planned("single", target, [i]) for i in awake if i.alert["kind"] not in GROUPED_KINDS]
        planned += _grouped(db, channel, settings, target, [i for i in awake if i.alert["kind"] in GROUPED_KINDS], now)
    return planned


def _quiet(channel: Channel, item: Item, context: Context, now: datetime) -> bool:
    if not channel.quiet_hours or item.alert["kind"] in URGENT_KINDS:
        return False
    start, end = channel.quiet_hours
    return quiet_at(now, context.brand(item.alert["brand"]).zone, start, end)


def group_key(item: Item, grouping: bool = True) -> tuple:
    """Alerts about the same person, per brand: a mention's author, a survey answer's customer."""
    if not grouping:
        return item.alert["brand"], "alert", item.alert["id"]
    if item.mention is not None and item.mention["author"]:
        return item.alert["brand"], "author", item.mention["source"], item.mention["author"].casefold()
    email = item.alert["details"].get("email")
    if item.alert["kind"] == RESPONSE_ALERT and email:
        return item.alert["brand"], "customer", email.casefold()
    return item.alert["brand"], "alert", item.alert["id"]


def _grouped(db, channel: Channel, settings: Alerts, target: str, items: list[Item], now: datetime) -> list[Planned]:
    window = timedelta(minutes=settings.group_window_minutes)
    groups: dict[tuple, list[Item]] = defaultdict(list)
    for item in items:
        groups[group_key(item, bool(window))].append(item)
    recent = _recently_sent(db, channel.name, target, now - window) if window else {}
    by_brand: dict[str, list[list[Item]]] = defaultdict(list)
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
    rows = db.query(
        "select d.sent_at, a.id, a.kind, a.brand, a.details, m.author, m.source from deliveries d "
        "join alerts a on a.id = d.alert_id left join mentions m on m.id = a.mention_id "
        "where d.channel = ? and d.target = ? and d.status = 'sent' and d.sent_at >= ? and d.bundle != 'digest'",
        [channel, target, iso(since)])
    latest: dict[tuple, datetime] = {}
    for row in rows:
        mention = {"author": row["author"], "source": row["source"]} if row["author"] else None
        alert = {"id": row["id"], "kind": row["kind"], "brand": row["brand"], "details": json.loads(row["details"] or "{}")}
        key = group_key(Item({}, alert, mention))
        latest[key] = max(latest.get(key, datetime.min.replace(tzinfo=since.tzinfo)), parse_timestamp(row["sent_at"]))
    return latest


def _sent_this_hour(db, channel: str, target: str, brand: str, now: datetime):
    """(messages sent, last roll-up, first send) to this target about this brand in the last hour."""
    count, last_rollup, first = db.execute(
        "select count(distinct case when d.bundle in ('single', 'group') then d.message_id end), "
        "max(case when d.bundle = 'rollup' then d.sent_at end), min(d.sent_at) from deliveries d "
        "join alerts a on a.id = d.alert_id where d.channel = ? and d.target = ? and a.brand = ? "
        "and d.status = 'sent' and d.sent_at >= ? and d.bundle != 'digest'",
        [channel, target, brand, iso(now - timedelta(hours=1))]).fetchone()
    return count, last_rollup, parse_timestamp(first) if first else now


def _digest_due(db, channel: Channel, target: str, mode: str, settings: Alerts, context: Context,
                now: datetime) -> bool:
    last = db.execute("select max(sent_at) from deliveries where channel = ? and target = ? and bundle = 'digest'",
                      [channel.name, target]).fetchone()[0]
    last = parse_timestamp(last) if last else None
    if mode == "hourly":
        return last is None or now - last >= timedelta(hours=1)
    zone = next(iter(context.brands.values())).zone if context.brands else None
    local = now.astimezone(zone)
    today = local.replace(hour=settings.daily_digest_hour, minute=0, second=0, microsecond=0)
    return local >= today and (last is None or last < today)


def _defer(db, items: Sequence[Item], until: datetime) -> None:
    with db.atomic():
        for item in items:
            db.execute("update deliveries set next_attempt_at = ? where id = ?", [iso(until), item.delivery["id"]])


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
                                  [i.delivery["id"] for i in message.items])
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
    with db.atomic():
        for item in message.items:
            db.execute("update deliveries set status = 'sent', attempts = attempts + 1, sent_at = ?, message_id = ?, "
                       "bundle = ?, last_error = null where id = ?",
                       [iso(now), message_id, message.bundle, item.delivery["id"]])


def _record(db, items: Sequence[Item], error: Exception, now: datetime, settings: Alerts, result: Dispatch) -> None:
    permanent = isinstance(error, PermanentDeliveryError)
    with db.atomic():
        for item in items:
            attempts = item.delivery["attempts"] + 1
            db.execute("update deliveries set status = ?, attempts = ?, last_error = ?, next_attempt_at = ? "
                       "where id = ?", ["failed" if permanent else "pending", attempts, str(error)[:500],
                                        iso(now + backoff(attempts, settings)), item.delivery["id"]])
    if permanent:
        result.failed += len(items)
        log.error("alert deliveries %s failed for good: %s", [i.delivery["id"] for i in items], error)
    else:
        result.retrying += len(items)
        result.error = str(error)
        log.warning("alert deliveries %s not sent, will retry: %s", [i.delivery["id"] for i in items], error)
