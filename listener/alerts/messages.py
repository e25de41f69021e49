"""Alert messages: plain text and HTML from the templates beside this module, in the brand's language."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formataddr

from surveys.templating import environment

from ..settings import Brand

TEXT = {
    "it": {
        "subject": "[Ascolto] Cliente scontento su {source}: {author} ({brand})",
        "intro": "{author} ha scritto di {brand} su {source} e il tono è negativo. Conviene rispondere presto.",
        "author": "Autore",
        "when": "Quando",
        "link": "Link",
        "no_link": "(nessun link)",
        "sentiment": "Sentiment",
        "why": "Perché l'avviso",
        "why_text": "sentiment negativo con confidenza {confidence:.0%} (soglia {threshold:.0%}): detrattore",
        "probs": "negativo {negative:.0%}, neutro {neutral:.0%}, positivo {positive:.0%}",
        "footer": "Menzione {id}, valutata dal modello {model}.",
        "response_subject": "[Ascolto] Voto {score} nel sondaggio: {customer} ({brand})",
        "response_intro": "{customer} ha dato {score} su 10 a {brand} nel sondaggio NPS: è un detrattore.",
        "score": "Voto",
        "customer": "Cliente",
        "order": "Ordine",
        "comment": "Commento",
        "no_comment": "(nessun commento)",
        "response_footer": "Risposta {id} ({channel}). Un caso di follow-up è aperto.",
    },
    "en": {
        "subject": "[Ascolto] Unhappy customer on {source}: {author} ({brand})",
        "intro": "{author} wrote about {brand} on {source} and the tone is negative. It is worth answering soon.",
        "author": "Author",
        "when": "When",
        "link": "Link",
        "no_link": "(no link)",
        "sentiment": "Sentiment",
        "why": "Why this alert",
        "why_text": "negative sentiment with confidence {confidence:.0%} (threshold {threshold:.0%}): detractor",
        "probs": "negative {negative:.0%}, neutral {neutral:.0%}, positive {positive:.0%}",
        "footer": "Mention {id}, scored by model {model}.",
        "response_subject": "[Ascolto] Survey score {score}: {customer} ({brand})",
        "response_intro": "{customer} gave {brand} {score} out of 10 in the NPS survey: a detractor.",
        "score": "Score",
        "customer": "Customer",
        "order": "Order",
        "comment": "Comment",
        "no_comment": "(no comment)",
        "response_footer": "Response {id} ({channel}). A follow-up case is open.",
    },
}


def message_id(alert_id: int, subject: str, sender: str) -> str:
    """Stable per alert: if a crash makes us send twice, mail clients still show one message."""
    domain = sender.rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(subject.encode()).hexdigest()[:16]
    return f"<ascolto.alert.{alert_id}.{digest}@{domain}>"


def notice_email(alert: dict, sender: str) -> EmailMessage:
    """An operational notice (e.g. a read budget spent): its text was written when it was queued."""
    details = alert["details"]
    msg = EmailMessage()
    msg["Subject"] = f"[Ascolto] {details['title']}"
    msg["From"] = formataddr(("Ascolto", sender))
    msg["To"] = ", ".join(alert["recipients"])
    msg["Message-ID"] = message_id(alert["id"], alert["subject"], sender)
    msg.set_content(details["body"] + "\n")
    if details.get("html"):  # the digest: charts as inline SVG
        msg.add_alternative(details["html"], subtype="html")
    return msg


def detractor_email(alert: dict, mention: dict, brand: Brand, sender: str, threshold: float) -> EmailMessage:
    t = TEXT[brand.alert_language]
    author = mention["author"] or "?"
    fields = {"source": mention["source"], "author": author, "brand": brand.name}
    why = t["why_text"].format(confidence=mention["sentiment_score"], threshold=threshold)
    probs = t["probs"].format(negative=mention["p_negative"], neutral=mention["p_neutral"], positive=mention["p_positive"])
    facts = [
        (t["author"], author),
        (t["when"], mention["created_at"]),
        (t["link"], mention["url"] or t["no_link"]),
        (t["sentiment"], probs),
        (t["why"], why),
    ]
    footer = t["footer"].format(id=mention["id"], model=mention["model"])
    return _alert_message(alert, sender, brand.alert_language, t["subject"].format(**fields),
                          t["intro"].format(**fields), mention["text"], facts, footer, mention["url"])


def response_email(alert: dict, brand: Brand, sender: str) -> EmailMessage:
    """A detractor's survey answer: score, comment and who, so that someone can call them back."""
    t, d = TEXT[brand.alert_language], alert["details"]
    customer = ", ".join(part for part in (d.get("name"), d.get("email")) if part) or "?"
    fields = {"score": d["score"], "customer": d.get("name") or d.get("email") or "?", "brand": brand.name}
    facts = [(t["score"], f"{d['score']}/10"), (t["customer"], customer), (t["order"], d.get("order_ref") or "-")]
    footer = t["response_footer"].format(id=alert["subject"].split(":")[-1], channel=d.get("channel"))
    return _alert_message(alert, sender, brand.alert_language, t["response_subject"].format(**fields),
                          t["response_intro"].format(**fields), d.get("comment") or t["no_comment"], facts, footer)


def _alert_message(alert: dict, sender: str, lang: str, subject: str, intro: str, quoted: str,
                   facts: list[tuple[str, str]], footer: str, url: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = formataddr(("Ascolto", sender))
    msg["To"] = ", ".join(alert["recipients"])
    msg["Message-ID"] = message_id(alert["id"], alert["subject"], sender)
    msg["Content-Language"] = lang
    # Only http(s) addresses become links: a mention's url is whatever its source said.
    link = url if url and url.startswith(("https://", "http://")) else None
    context = {"intro": intro, "text": quoted, "quoted": quoted.splitlines() or [""], "facts": facts,
               "footer": footer, "link": link, "lang": lang}
    templates = environment("listener.alerts")
    msg.set_content(templates.get_template("alert.txt").render(context) + "\n")
    msg.add_alternative(templates.get_template("alert.html").render(context), subtype="html")
    return msg
