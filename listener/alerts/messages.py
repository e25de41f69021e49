"""Alert messages, in the brand's language and local time: one alert, several about one author (a
group), the rest of an hour over the cap (a roll-up), old alerts of a first run or a backfill (a
backlog), an hourly or daily digest, a near-miss list, a spike or an operational notice.

A message is built once as an ``Outgoing``: a subject, an introduction and entries, each an alert with
its quoted text, a few facts (each with a key, so a chat channel can pick the ones it shows) and its
actions, the first one primary (answering the customer), the quiet ones (feedback to the model) set
apart. Each channel renders it natively: an email (text and HTML, ``templates/``), a Slack message,
a Teams card, a Telegram message, a JSON webhook (``channels/``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from listener.cases import STATUS_NAMES
from listener.kernel import hours
from listener.kernel.i18n import N_, localized, translations
from listener.kernel.templating import environment
from listener.kernel.textfiles import one_line
from listener.store.alerts import Due
from listener.store.mentions import StoredMention

from ..settings import Brand
from .kinds import DETRACTOR_ALERT, NEAR_MISSES_ALERT, NOTICE_ALERT, RESPONSE_ALERT, SPIKE_ALERT
from .notices import NOTICES, RESUMES

QUOTE_CHARS = 2000  # of a mention's text in a message; the whole text is in the database
SHORT_QUOTE_CHARS = 280  # in a digest, or a message cut to fit
LINE_CHARS = 120  # of the text on a roll-up or backlog line

# Where a mention's ``source`` was written, as people name it.
PLATFORMS = {"x": "X", "twitter": "X", "reddit": "Reddit", "bluesky": "Bluesky", "mastodon": "Mastodon",
             "youtube": "YouTube", "google_reviews": "Google", "google": "Google", "appstore": "App Store",
             "googleplay": "Google Play", "feed": "web", "instagram": "Instagram", "facebook": "Facebook",
             "tiktok": "TikTok", "linkedin": "LinkedIn", "trustpilot": "Trustpilot", "tripadvisor": "Tripadvisor"}

TEXT = {
    "subject": N_("[Ascolto] Unhappy customer on {platform}: {author} ({brand})"),
    "intro": N_("{author} wrote about {brand} on {platform} and seems unhappy. It is worth answering soon."),
    "author": N_("Author"),
    "platform": N_("Where"),
    "when": N_("When"),
    "theme": N_("About"),
    "why": N_("Why this alert"),
    "why_rating": N_("a {rating}-star review out of 5"),
    "why_certain": N_("almost certainly an unhappy customer ({p:.0%} sure)"),
    "why_likely": N_("very likely an unhappy customer ({p:.0%} sure)"),
    "why_possible": N_("probably an unhappy customer ({p:.0%} sure)"),
    "why_sentiment": N_("a clearly negative tone ({confidence:.0%} sure)"),
    "why_survey": N_("a score of {score} out of 10: a detractor"),
    "case": N_("Case"),
    "case_state": N_("#{id} {status}, to handle by {due}"),
    "case_owned": N_("#{id} {status}, {owner} is on it, to handle by {due}"),
    "footer": N_("Mention {id}, scored by model {model}."),
    "response_subject": N_("[Ascolto] Survey score {score}: {customer} ({brand})"),
    "response_intro": N_("{customer} gave {brand} {score} out of 10 in the NPS survey: a detractor."),
    "score": N_("Score"),
    "customer": N_("Customer"),
    "order": N_("Order"),
    "no_comment": N_("(no comment)"),
    "response_footer": N_("Answer {id} ({channel}). A follow-up case is open."),
    "group_subject": N_("[Ascolto] {count} messages from {author} about {brand}"),
    "group_intro": N_("{author} wrote {count} times about {brand}: one message for all of them."),
    "rollup_subject": N_("[Ascolto] {count} more alerts for {brand} this hour"),
    "rollup_intro": N_("The hourly cap of alerts for {brand} is reached: here are the other {count}, one line each."),
    "backlog_subject": N_("[Ascolto] {count} older alerts for {brand}, in one list"),
    "backlog_intro": N_("These {count} alerts are about texts written more than a day ago (a first run or a "
                        "backfill): one list instead of {count} messages. The newest first."),
    "digest_subject": N_("[Ascolto] Digest: {count} alerts"),
    "digest_intro": N_("{count} alerts since the last digest."),
    "near_subject": N_("[Ascolto] {count} mentions of {brand} came close to an alert"),
    "near_intro": N_("They did not raise an alert, but the detector was not far from it. If one is a complaint, "
                     "say so with its link: the model learns from it."),
    "near_pleased": N_("above the threshold ({p:.0%}), but its tone reads pleased"),
    "near_below": N_("{p:.0%}, the alert starts at {threshold:.0%}"),
    "spike_volume_subject": N_("[Ascolto] {brand}: {count} mentions in the hour from {hour}, usually {baseline}"),
    "spike_tone_subject": N_("[Ascolto] {brand}: {share:.0%} negative mentions in the hour from {hour}, usually "
                             "{baseline_share:.0%}"),
    "spike_intro": N_("{count} mentions ({negative} negative) against {baseline} in the same hour of the last 7 "
                      "days ({baseline_share:.0%} negative). Words: {words}."),
    "reply": N_("Reply"),
    "write_to": N_("Write to {customer}"),
    "open_post": N_("Open the post"),
    "in_datasette": N_("Open in Datasette"),
    "take": N_("I'll take it"),
    "contacted": N_("Contacted"),
    "resolved": N_("Resolved"),
    "lost": N_("Lost"),
    "not_complaint": N_("Not a complaint"),
    "right": N_("Right alert"),
    "complaint": N_("This is a complaint"),
    "feedback": N_("Teach the model"),
    "order_subject": N_("Your order {order} with {brand}"),
}
# The actions a case offers at each stage: first the step people take next, then the ways to close.
CASE_NEXT = {"open": ("take",), "contacted": ("resolved", "lost")}


@dataclass
class Fact:
    label: str
    value: str
    key: str = ""  # author, platform, when, theme, why, case, score, customer, order
    url: str | None = None  # the value links there (the post; a mailto)


@dataclass
class Action:
    label: str
    url: str
    key: str = ""
    primary: bool = False  # the one thing to do first: answer the customer
    quiet: bool = False  # feedback for the model: set apart, small


@dataclass
class Entry:
    title: str
    quoted: str
    facts: list[Fact] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    url: str | None = None  # the post, shown as a link where it is http(s)
    line: bool = False  # one line of a roll-up or backlog: its title, a short text, one link

    def fact(self, key: str) -> Fact | None:
        return next((f for f in self.facts if f.key == key), None)

    @property
    def primary(self) -> Action | None:
        return next((a for a in self.actions if a.primary), None)


@dataclass
class Outgoing:
    subject: str
    lang: str
    intro: str
    entries: list[Entry]
    footer: str
    message_id: str
    kind: str = DETRACTOR_ALERT  # the alert kind (a bundle's first): its colour in chat channels
    bundle: str = "single"
    date: datetime | None = None
    html_body: str | None = None  # the weekly digest brings its own HTML (charts)
    ids: tuple[int, ...] = ()  # the deliveries it carries: an idempotency key for receivers that take one

    @property
    def urgent(self) -> bool:
        """A complaint or a spike wears the warning colour; a near-miss list or a notice does not."""
        return self.kind in (DETRACTOR_ALERT, RESPONSE_ALERT, SPIKE_ALERT)

    def text(self) -> str:
        template = environment(self.lang, "listener.alerts").get_template("message.txt")
        return template.render(message=self).rstrip("\n") + "\n"

    def html(self) -> str:
        if self.html_body is not None:
            return self.html_body
        return environment(self.lang, "listener.alerts").get_template("message.html").render(message=self)


@dataclass(frozen=True)
class Context:
    """What composing needs besides the items: brands, links, the sender's domain, theme names."""

    brands: Mapping[str, Brand]
    sender: str
    action_link: Callable[[int, str], str] | None = None  # (delivery id, action) -> URL; None: no [web]
    datasette_url: str = ""
    theme_label: Callable[[str, str], str] = lambda theme, lang: theme  # (theme id, language) -> its name
    now: datetime | None = None

    def brand(self, name: str | None) -> Brand:
        """The brand of an alert; one renamed or removed from the configuration still gets its message."""
        return self.brands.get(name or "") or Brand(name=name or "Ascolto", keywords=(),
                                                    alert_language=self.default_language)

    @property
    def default_language(self) -> str:
        return next(iter(self.brands.values())).alert_language if self.brands else "en"


def platform(source: str | None) -> str:
    return PLATFORMS.get((source or "").lower(), (source or "?").replace("_", " ").title())


def compose(bundle: str, items: Sequence[Due], context: Context, cut: bool = False) -> Outgoing:
    """The message of a bundle of deliveries; ``cut``: every quote cut short (a channel refused the
    message as too large)."""
    brand = context.brand(items[0].alert.brand)
    lang = brand.alert_language
    t = localized(lang, TEXT)
    ident = message_id(bundle, [i.delivery.id for i in items], context.sender)
    made = _single(items[0], brand, t, context, ident, cut) if bundle == "single" else \
        _bundle(bundle, items, brand, t, context, ident, cut)
    made.kind, made.bundle, made.date = items[0].alert.kind, bundle, context.now
    made.ids = tuple(i.delivery.id for i in items)
    return made


def message_id(bundle: str, delivery_ids: Sequence[int], sender: str) -> str:
    """Stable for the same deliveries: if a crash makes us send twice, mail clients still show one."""
    domain = sender.rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(",".join(map(str, sorted(delivery_ids))).encode()).hexdigest()[:16]
    return f"<ascolto.{bundle}.{min(delivery_ids)}.{digest}@{domain}>"


def _bundle(bundle: str, items: Sequence[Due], brand: Brand, t: dict, context: Context, ident: str,
            cut: bool) -> Outgoing:
    line = bundle in ("rollup", "backlog")
    entries = [_entry(item, context.brand(item.alert.brand), t, context, short=cut or bundle != "group", line=line)
               for item in items]
    fields = {"count": len(items), "brand": brand.name, "author": _author(items[0])}
    return Outgoing(one_line(t[f"{bundle}_subject"].format(**fields)), brand.alert_language,
                    t[f"{bundle}_intro"].format(**fields), entries, "", ident)


def _single(item: Due, brand: Brand, t: dict, context: Context, ident: str, cut: bool = False) -> Outgoing:
    alert, details, lang = item.alert, item.alert.details, brand.alert_language
    if alert.kind == NEAR_MISSES_ALERT:
        return _near_misses(item, brand, t, context, ident)
    if alert.kind == SPIKE_ALERT and "count" in details:
        return _spike(item, brand, t, context, ident)
    if alert.kind == NOTICE_ALERT and "notice" in details:
        title, body = _notice_text(details, lang)
        return Outgoing(one_line(f"[Ascolto] {title}"), lang, body, [], "", ident)
    if alert.kind == RESPONSE_ALERT:
        fields = {"score": details["score"], "customer": _customer(details), "brand": brand.name}
        footer = t["response_footer"].format(id=alert.subject.split(":")[-1], channel=details.get("channel"))
        return Outgoing(one_line(t["response_subject"].format(**fields)), lang,
                        t["response_intro"].format(**fields), [_entry(item, brand, t, context, cut)], footer, ident)
    if alert.kind == DETRACTOR_ALERT and item.mention is not None:
        fields = {"platform": platform(item.mention.source), "author": _author(item), "brand": brand.name}
        footer = t["footer"].format(id=item.mention.id, model=item.mention.model)
        return Outgoing(one_line(t["subject"].format(**fields)), lang, t["intro"].format(**fields),
                        [_entry(item, brand, t, context, cut)], footer, ident)
    # a notice, a spike or the weekly digest whose text was written when it was queued
    return Outgoing(one_line(f"[Ascolto] {details['title']}"), lang, details["body"], [], "", ident,
                    html_body=details.get("html"))


def _entry(item: Due, brand: Brand, t: dict, context: Context, short: bool, line: bool = False) -> Entry:
    alert, mention = item.alert, item.mention
    limit = LINE_CHARS if line else SHORT_QUOTE_CHARS if short else QUOTE_CHARS
    if alert.kind == RESPONSE_ALERT:
        return _answer_entry(item, brand, t, context, limit, line)
    if mention is None:  # a notice or spike inside a digest
        title, body = _notice_text(alert.details, brand.alert_language) if "notice" in alert.details else \
            (alert.details.get("title", alert.kind), alert.details.get("body", ""))
        return Entry(title, _cut(body, limit), line=line)
    author, when = _author(item), local_time(mention.created_at, brand)
    url = mention.url if (mention.url or "").startswith(("https://", "http://")) else None
    facts = [Fact(t["platform"], platform(mention.source), "platform", url), Fact(t["author"], author, "author"),
             Fact(t["when"], when, "when")]
    facts += _theme_fact(item, brand, t, context)
    facts.append(Fact(t["why"], _why(mention, item.alert.details, t), "why"))
    facts += _case_fact(item, brand, t)
    actions = _mention_actions(item, t, context, url)
    if line:
        actions = actions[:1]
    elif context.datasette_url:
        actions.append(Action(t["in_datasette"], f"{context.datasette_url.rstrip('/')}/mentions/"
                                                 f"{quote(mention.id, safe='')}", "datasette", quiet=True))
    return Entry(f"{author} ({platform(mention.source)}, {when})", _cut(mention.text, limit), facts, actions, url, line)


def _answer_entry(item: Due, brand: Brand, t: dict, context: Context, limit: int, line: bool) -> Entry:
    details = item.alert.details
    customer = ", ".join(part for part in (details.get("name"), details.get("email")) if part) or "?"
    mailto = _mailto(details, brand, t)
    facts = [Fact(t["score"], f"{details['score']}/10", "score"), Fact(t["customer"], customer, "customer", mailto),
             Fact(t["order"], details.get("order_ref") or "-", "order")]
    facts += _theme_fact(item, brand, t, context)
    facts += _case_fact(item, brand, t)
    actions = []
    reply = _link(item, "reply", context)
    if reply:
        actions.append(Action(t["reply"], reply, "reply", primary=True))
    elif mailto:
        actions.append(Action(t["write_to"].format(customer=details.get("name") or details.get("email")), mailto,
                              "mailto", primary=True))
    actions += _case_actions(item, t, context)
    if line:
        actions = actions[:1]
    return Entry(f"{t['score']} {details['score']}/10: {customer}", _cut(details.get("comment") or t["no_comment"], limit),
                 facts, actions, line=line)


def _mention_actions(item: Due, t: dict, context: Context, url: str | None) -> list[Action]:
    """Answer first (the reply page, else the post itself), then the case's next step, then the
    model's feedback, set apart."""
    actions = []
    reply = _link(item, "reply", context)
    if reply:
        actions.append(Action(t["reply"], reply, "reply", primary=True))
    elif url:
        actions.append(Action(t["open_post"], url, "post", primary=True))
    actions += _case_actions(item, t, context)
    if context.action_link is not None and (item.case is None or item.case.status == "open"):
        actions += [Action(t[key], context.action_link(item.delivery.id, key), key, quiet=True)
                    for key in ("not_complaint", "right")]
    return actions


def _case_actions(item: Due, t: dict, context: Context) -> list[Action]:
    if context.action_link is None or item.case is None:
        return []
    keys = CASE_NEXT.get(item.case.status, ())
    if item.case.status == "open" and item.case.owner:
        keys = ("contacted", "resolved")  # someone took it: what follows
    return [Action(t[key], context.action_link(item.delivery.id, key), key) for key in keys]


def _link(item: Due, action: str, context: Context) -> str | None:
    return context.action_link(item.delivery.id, action) if context.action_link is not None and \
        action in getattr(context.action_link, "offers", ()) else None


def _mailto(details: Mapping, brand: Brand, t: dict) -> str | None:
    email = details.get("email")
    if not email:
        return None
    subject = t["order_subject"].format(order=details.get("order_ref") or "", brand=brand.name).replace("  ", " ")
    return f"mailto:{quote(email, safe='@')}?subject={quote(subject)}"


def _theme_fact(item: Due, brand: Brand, t: dict, context: Context) -> list[Fact]:
    if not item.themes:
        return []
    names = ", ".join(context.theme_label(theme, brand.alert_language) for theme in item.themes)
    return [Fact(t["theme"], names, "theme")]


def _near_misses(item: Due, brand: Brand, t: dict, context: Context, ident: str) -> Outgoing:
    """The day's mentions just under the alert threshold, each with its reason in words and a "this
    is a complaint" link."""
    details, lang = item.alert.details, brand.alert_language
    entries = []
    for near in details["mentions"]:
        link = context.action_link(item.delivery.id, f"complaint-{near['rowid']}") if context.action_link else None
        reason = t["near_pleased"] if near["p_unhappy"] >= near["threshold"] else t["near_below"]
        when = local_time(near["created_at"], brand)
        entries.append(Entry(f"{near['author'] or '?'} ({platform(near['source'])}, {when})",
                             _cut(near["text"], SHORT_QUOTE_CHARS),
                             [Fact(t["why"], reason.format(p=near["p_unhappy"], threshold=near["threshold"]), "why")],
                             [Action(t["complaint"], link, "complaint", primary=True)] if link else [],
                             near.get("url")))
    count = len(details["mentions"])
    return Outgoing(one_line(t["near_subject"].format(count=count, brand=brand.name)), lang, t["near_intro"], entries,
                    "", ident)


def _spike(item: Due, brand: Brand, t: dict, context: Context, ident: str) -> Outgoing:
    details, lang = item.alert.details, brand.alert_language
    hour = local_time(details["hour"], brand) if details.get("hour") else ""
    fields = {**details, "brand": brand.name, "hour": hour, "baseline": f"{details['baseline']:.1f}",
              "words": details.get("words") or "-"}
    subject = t["spike_volume_subject" if details["kind"] == "volume" else "spike_tone_subject"].format(**fields)
    entries = [Entry(f"{e['author'] or '?'} ({platform(e['source'])})", _cut(e["text"], SHORT_QUOTE_CHARS),
                     url=e.get("url")) for e in details.get("example_texts", [])]
    return Outgoing(one_line(subject), lang, t["spike_intro"].format(**fields), entries, "", ident)


def _notice_text(details: Mapping, lang: str) -> tuple[str, str]:
    title, body = NOTICES[details["notice"]]
    translate = translations(lang).gettext
    params = dict(details.get("params", {}))
    if "resumes" in params:
        params["resumes"] = translate(RESUMES.get(params["resumes"], params["resumes"]))
    return translate(title).format(**params), translate(body).format(**params)


def _why(mention: StoredMention, details: Mapping, t: dict) -> str:
    """Why the alert went out, in words."""
    rule = mention.alert_rule or details.get("rule")
    if rule == "rating":
        return t["why_rating"].format(rating=mention.rating)
    if rule == "detector" and mention.p_unhappy is not None:
        p = mention.p_unhappy
        return t["why_certain" if p >= 0.9 else "why_likely" if p >= 0.7 else "why_possible"].format(p=p)
    return t["why_sentiment"].format(confidence=mention.sentiment_score or 0)


def _case_fact(item: Due, brand: Brand, t: dict) -> list[Fact]:
    case = item.case
    if case is None:
        return []
    status = translations(brand.alert_language).gettext(STATUS_NAMES.get(case.status, case.status))
    template = t["case_owned"] if case.owner else t["case_state"]
    return [Fact(t["case"], template.format(id=case.id, status=status, owner=case.owner,
                                            due=local_time(case.due_at, brand)), "case")]


def _author(item: Due) -> str:
    if item.mention is not None:
        return one_line(item.mention.author or "?")
    return _customer(item.alert.details)


def _customer(details: Mapping) -> str:
    return one_line(details.get("name") or details.get("email") or "?")


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split()) if limit <= LINE_CHARS else text
    return text if len(text) <= limit else text[:limit].rstrip() + " […]"


def local_time(utc_iso: str | None, brand: Brand) -> str:
    """``2026-11-20T10:00:00Z`` as the brand's people read it: ``20/11/2026 11:00``."""
    return hours.local_time(utc_iso, brand.zone)
