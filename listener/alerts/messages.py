"""Alert messages, in the brand's language and local time: one alert, several about one author (a
group), the rest of an hour over the cap (a roll-up), or an hourly or daily digest.

A message is a list of entries, each an alert with its quoted text, its facts and its action links
(signed for the delivery, so for the person or channel it goes to). It is rendered once as plain
text (email, chat channels) and once as HTML (email), from the templates beside this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from listener.alerts.kinds import DETRACTOR_ALERT, NEAR_MISSES_ALERT, RESPONSE_ALERT
from listener.kernel.i18n import N_, localized
from listener.kernel.templating import environment
from listener.kernel.textfiles import one_line
from listener.kernel.times import parse_timestamp
from listener.store.alerts import Due
from listener.store.mentions import StoredMention

from ..settings import Brand

QUOTE_CHARS = 2000  # of a mention's text in a message; the whole text is in the database
SHORT_QUOTE_CHARS = 280  # in a roll-up or digest

TEXT = {
    'subject': N_('[Ascolto] Unhappy customer on {source}: {author} ({brand})'),
    'intro': N_('{author} wrote about {brand} on {source} and seems unhappy. It is worth answering soon.'),
    'author': N_('Author'),
    'when': N_('When'),
    'link': N_('Link'),
    'no_link': N_('(no link)'),
    'sentiment': N_('Sentiment'),
    'why': N_('Why this alert'),
    'why_sentiment': N_('negative sentiment with confidence {confidence:.0%} (threshold {threshold:.0%}): detractor'),
    'why_detector': N_('probability of an unhappy customer {p:.0%} (threshold {threshold:.0%}, {preset})'),
    'why_rating': N_('a {rating}-star review out of 5'),
    'probs': N_('negative {negative:.0%}, neutral {neutral:.0%}, positive {positive:.0%}'),
    'case': N_('Case'),
    'case_state': N_('#{id} {status}, due {due}'),
    'footer': N_('Mention {id}, scored by model {model}.'),
    'response_subject': N_('[Ascolto] Survey score {score}: {customer} ({brand})'),
    'response_intro': N_('{customer} gave {brand} {score} out of 10 in the NPS survey: a detractor.'),
    'score': N_('Score'),
    'customer': N_('Customer'),
    'order': N_('Order'),
    'comment': N_('Comment'),
    'no_comment': N_('(no comment)'),
    'response_footer': N_('Response {id} ({channel}). A follow-up case is open.'),
    'group_subject': N_('[Ascolto] {count} messages from {author} about {brand}'),
    'group_intro': N_('{author} wrote {count} times about {brand}: one message for all of them.'),
    'rollup_subject': N_('[Ascolto] {count} more alerts for {brand} this hour'),
    'rollup_intro': N_('The hourly cap of alerts for {brand} is reached: here are the other {count}, in short.'),
    'digest_subject': N_('[Ascolto] Digest: {count} alerts'),
    'digest_intro': N_('{count} alerts since the last digest.'),
    'actions': N_('Actions'),
    'in_datasette': N_('Open in Datasette'),
    'take': N_("I'll take it"),
    'contacted': N_('Contacted'),
    'resolved': N_('Resolved'),
    'lost': N_('Lost'),
    'not_complaint': N_('Not a complaint'),
    'right': N_('Right alert'),
    'complaint': N_('This is a complaint'),
}
CASE_ACTIONS = ("take", "contacted", "resolved", "lost")
MENTION_FEEDBACK = ("not_complaint", "right")


@dataclass
class Entry:
    title: str
    quoted: str
    facts: list[tuple[str, str]]
    links: list[tuple[str, str]] = field(default_factory=list)
    url: str | None = None  # the post, shown as a link where it is http(s)


@dataclass
class Outgoing:
    subject: str
    lang: str
    intro: str
    entries: list[Entry]
    footer: str
    message_id: str
    html_body: str | None = None  # a notice or the weekly digest brings its own HTML (charts)

    def text(self) -> str:
        return environment("listener.alerts").get_template("message.txt").render(message=self).rstrip("\n") + "\n"

    def html(self) -> str:
        if self.html_body is not None:
            return self.html_body
        return environment("listener.alerts").get_template("message.html").render(message=self)


@dataclass(frozen=True)
class Context:
    """What composing needs besides the items: brands, links, the sender's domain."""

    brands: Mapping[str, Brand]
    sender: str
    action_link: Callable[[int, str], str] | None = None  # (delivery id, action) -> URL; None: no [web]
    datasette_url: str = ""

    def brand(self, name: str | None) -> Brand:
        """The brand of an alert; one renamed or removed from the configuration still gets its message."""
        return self.brands.get(name or "") or Brand(name=name or "Ascolto", keywords=())


def compose(bundle: str, items: Sequence[Due], context: Context, cut: bool = False) -> Outgoing:
    """The message of a bundle of deliveries; ``cut``: every quote cut short (a channel refused the
    message as too large)."""
    brand = context.brand(items[0].alert.brand)
    t = localized(brand.alert_language, TEXT)
    ident = message_id(bundle, [i.delivery.id for i in items], context.sender)
    if bundle == "single":
        return _single(items[0], brand, t, context, ident, cut)
    entries = [_entry(item, context.brand(item.alert.brand), t, context, short=cut or bundle != "group")
               for item in items]
    fields = {"count": len(items), "brand": brand.name, "author": _author(items[0])}
    return Outgoing(one_line(t[f"{bundle}_subject"].format(**fields)), brand.alert_language,
                    t[f"{bundle}_intro"].format(**fields), entries, "", ident)


def message_id(bundle: str, delivery_ids: Sequence[int], sender: str) -> str:
    """Stable for the same deliveries: if a crash makes us send twice, mail clients still show one."""
    domain = sender.rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(",".join(map(str, sorted(delivery_ids))).encode()).hexdigest()[:16]
    return f"<ascolto.{bundle}.{min(delivery_ids)}.{digest}@{domain}>"


def _single(item: Due, brand: Brand, t: dict, context: Context, ident: str, cut: bool = False) -> Outgoing:
    alert, details = item.alert, item.alert.details
    if alert.kind == NEAR_MISSES_ALERT:
        return _near_misses(item, brand, t, context, ident)
    if alert.kind == RESPONSE_ALERT:
        fields = {"score": details["score"], "customer": details.get("name") or details.get("email") or "?",
                  "brand": brand.name}
        footer = t["response_footer"].format(id=alert.subject.split(":")[-1], channel=details.get("channel"))
        return Outgoing(one_line(t["response_subject"].format(**fields)), brand.alert_language,
                        t["response_intro"].format(**fields), [_entry(item, brand, t, context, cut)], footer, ident)
    if alert.kind == DETRACTOR_ALERT and item.mention is not None:
        fields = {"source": item.mention.source, "author": _author(item), "brand": brand.name}
        footer = t["footer"].format(id=item.mention.id, model=item.mention.model)
        return Outgoing(one_line(t["subject"].format(**fields)), brand.alert_language, t["intro"].format(**fields),
                        [_entry(item, brand, t, context, cut)], footer, ident)
    # a notice, a spike or the weekly digest: its text was written when it was queued
    entry = Entry("", "", [], _links(item, details.get("actions", ()), t, context))
    return Outgoing(one_line(f"[Ascolto] {details['title']}"), brand.alert_language, details["body"],
                    [entry] if entry.links else [], "", ident, details.get("html"))


def _entry(item: Due, brand: Brand, t: dict, context: Context, short: bool) -> Entry:
    alert, details, mention = item.alert, item.alert.details, item.mention
    limit = SHORT_QUOTE_CHARS if short else QUOTE_CHARS
    if alert.kind == RESPONSE_ALERT:
        customer = ", ".join(part for part in (details.get("name"), details.get("email")) if part) or "?"
        facts = [(t["score"], f"{details['score']}/10"), (t["customer"], customer),
                 (t["order"], details.get("order_ref") or "-")]
        facts += _case_fact(item, brand, t)
        return Entry(f"{t['score']} {details['score']}/10: {customer}", _cut(details.get("comment") or t["no_comment"], limit),
                     facts, _links(item, CASE_ACTIONS, t, context))
    if mention is None:  # a notice or spike inside a digest
        return Entry(details.get("title", alert.kind), _cut(details.get("body", ""), limit), [],
                     _links(item, details.get("actions", ()), t, context))
    author = _author(item)
    facts = [(t["author"], author), (t["when"], local_time(mention.created_at, brand)),
             (t["link"], mention.url or t["no_link"])]
    if not short:
        facts.append((t["sentiment"], t["probs"].format(negative=mention.p_negative, neutral=mention.p_neutral,
                                                        positive=mention.p_positive)))
    facts.append((t["why"], _why(mention, details, t)))
    facts += _case_fact(item, brand, t)
    links = _links(item, CASE_ACTIONS + MENTION_FEEDBACK, t, context)
    if context.datasette_url:
        links.append((t["in_datasette"], f"{context.datasette_url.rstrip('/')}/mentions/{quote(mention.id, safe='')}"))
    url = mention.url if (mention.url or "").startswith(("https://", "http://")) else None
    return Entry(f"{author} ({mention.source}, {local_time(mention.created_at, brand)})",
                 _cut(mention.text, limit), facts, links, url)


def _near_misses(item: Due, brand: Brand, t: dict, context: Context, ident: str) -> Outgoing:
    """The day's mentions just under the alert threshold, each with a "this is a complaint" link."""
    details = item.alert.details
    entries = []
    for near in details["mentions"]:
        link = context.action_link(item.delivery.id, f"complaint-{near['rowid']}") if context.action_link else None
        entries.append(Entry(f"{near['author']} ({near['source']}, {local_time(near['created_at'], brand)})",
                             _cut(near["text"], SHORT_QUOTE_CHARS),
                             [(t["why"], f"{near['p_unhappy']:.0%} < {near['threshold']:.0%}")],
                             [(t["complaint"], link)] if link else [], near.get("url")))
    return Outgoing(one_line(f"[Ascolto] {details['title']}"), brand.alert_language, details["body"], entries, "",
                    ident)


def _why(mention: StoredMention, details: dict, t: dict) -> str:
    rule = mention.alert_rule or details.get("rule")
    if rule == "rating":
        return t["why_rating"].format(rating=mention.rating)
    if rule == "detector" and mention.p_unhappy is not None:
        return t["why_detector"].format(p=mention.p_unhappy, threshold=details.get("threshold", 0.5),
                                        preset=details.get("preset", ""))
    return t["why_sentiment"].format(confidence=mention.sentiment_score, threshold=details.get("threshold", 0.6))


def _case_fact(item: Due, brand: Brand, t: dict) -> list[tuple[str, str]]:
    case = item.case
    if case is None:
        return []
    return [(t["case"], t["case_state"].format(id=case.id, status=case.status,
                                               due=local_time(case.due_at, brand)))]


def _links(item: Due, actions: Sequence[str], t: dict, context: Context) -> list[tuple[str, str]]:
    if context.action_link is None:
        return []
    return [(t.get(action, action), context.action_link(item.delivery.id, action)) for action in actions]


def _author(item: Due) -> str:
    if item.mention is not None:
        return one_line(item.mention.author or "?")
    details = item.alert.details
    return one_line(details.get("name") or details.get("email") or "?")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + " […]"


def local_time(utc_iso: str, brand: Brand) -> str:
    """``2026-11-20T10:00:00Z`` as the brand's people read it: ``20/11/2026 11:00 (Europe/Rome)``."""
    moment: datetime = parse_timestamp(utc_iso).astimezone(brand.zone)
    return f"{moment:%d/%m/%Y %H:%M} ({brand.timezone})"
