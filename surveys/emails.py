"""The invitation email: the standard NPS question with eleven one-click links, in Italian or English."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from listener.kernel.i18n import N_, localized
from listener.kernel.templating import render
from listener.kernel.textfiles import one_line

TEXT = {
    'subject': N_('{brand}: how did your order {order} go?'),
    'reminder_subject': N_('Reminder - {brand}: how did your order {order} go?'),
    'greeting': N_('Hi {name},'),
    'greeting_anonymous': N_('Hi,'),
    'intro': N_('thank you for your order {order}. Choose a score, then press Send on the page that opens (a '
                'reason is welcome, not required):'),
    'question': N_('How likely are you to recommend {brand} to a friend or colleague?'),
    'scale': N_('0 = not at all likely, 10 = extremely likely'),
    'after': N_('Your score counts once you press Send.'),
    'reminder': N_('This is our last message about this order: we will not ask again.'),
    'unsubscribe': N_("Don't want surveys from {brand} any more? Unsubscribe"),
    'why': N_('You receive this email because you bought from {brand}.'),
}


def invitation_email(*, lang: str, brand: str, order_ref: str, name: str | None, to: str, sender: str,
                     score_links: list[str], unsubscribe: str, reminder: bool, message_id: str | None = None
                     ) -> EmailMessage:
    t = {k: v.format(brand=brand, order=order_ref, name=name or "") for k, v in localized(lang, TEXT).items()}
    context = {"t": t, "name": name, "links": list(enumerate(score_links)),
               "unsubscribe": unsubscribe, "reminder": reminder}
    # Headers are not folded below the RFC 5322 limit of 998: a long List-Unsubscribe URL must stay one
    # bare <https://...> token (folding it RFC 2047-encodes it, and one-click unsubscribe stops working).
    msg = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=998))
    msg["Subject"] = t["reminder_subject" if reminder else "subject"]
    msg["From"] = formataddr((brand, sender))
    msg["To"] = formataddr((one_line(name or ""), to))  # a name stored before names were cleaned
    # One Message-ID per invitation (and one per reminder), stable across retries: a message sent
    # twice by accident shows up once in the customer's mail client.
    msg["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["Content-Language"] = lang
    # RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs, one click.
    msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(render("invitation.txt", lang, **context))
    msg.add_alternative(render("invitation.html", lang, **context), subtype="html")
    return msg
