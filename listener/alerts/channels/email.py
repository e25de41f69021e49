"""The email channel: our own SMTP path, one message per recipient.

Failures are sorted as ``listener.kernel.delivery`` names them: cannot connect or log in, or the
server is unavailable (421): the channel is down, every message waits; a 4xx about one message: it
waits alone; a 5xx (an unknown recipient): it fails alone with the server's reply; a size refusal
(552, or 452 saying so): too large, the dispatcher cuts or splits it.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from listener.alerts.settings import Smtp
from listener.kernel.delivery import (
    ChannelUnavailable,
    MessageTooLarge,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from listener.kernel.times import utc_now

from ..messages import Outgoing

TYPE = "email"
LABEL = "Email (our SMTP path)"


def make_sender(channel, mailer: SmtpMailer | None, sender: str) -> EmailChannel | None:
    """The channel's sender; None without SMTP: its alerts wait in the outbox."""
    return EmailChannel(mailer, sender) if mailer is not None else None


SIZE_WORDS = ("size", "too large", "too big", "exceed")


def classify(exc: Exception) -> Exception:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if all(code >= 500 for code in codes):
            return PermanentDeliveryError(f"recipient refused: {_reply_text(exc.recipients)}")
        return TransientDeliveryError(f"recipient refused for now: {_reply_text(exc.recipients)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        reply = f"SMTP server replied {exc.smtp_code} {error}"
        if exc.smtp_code == 552 or (exc.smtp_code == 452 and any(w in error.lower() for w in SIZE_WORDS)):
            return MessageTooLarge(reply)
        if exc.smtp_code == 421 or isinstance(exc, (smtplib.SMTPConnectError, smtplib.SMTPHeloError,
                                                    smtplib.SMTPAuthenticationError)):
            return ChannelUnavailable(reply) if exc.smtp_code < 500 else PermanentDeliveryError(reply)
        return (PermanentDeliveryError if exc.smtp_code >= 500 else TransientDeliveryError)(reply)
    return ChannelUnavailable(f"{type(exc).__name__}: {exc}".rstrip(": "))  # the network, a timeout, a drop


def _reply_text(recipients: dict) -> str:
    return "; ".join(f"{addr} {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                     for addr, (code, msg) in recipients.items())


def email_message(outgoing: Outgoing, sender: str, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = outgoing.subject
    msg["From"] = formataddr(("Ascolto", sender))
    msg["To"] = to
    msg["Message-ID"] = outgoing.message_id
    msg["Date"] = format_datetime(outgoing.date or utc_now())
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(outgoing.text())
    msg.add_alternative(outgoing.html(), subtype="html")
    msg["Content-Language"] = outgoing.lang  # after the parts exist: making them moves Content-* headers down
    return msg


class SmtpMailer:
    """One SMTP session per dispatch run: ``with mailer.session() as send: send(message)``. Survey
    invitations use it directly; alerts through ``EmailChannel``."""

    def __init__(self, settings: Smtp):
        self.settings = settings

    def session(self) -> _Session:
        return _Session(self.settings)


class EmailChannel:
    """The outbox's email channel: ``with channel.session() as send: send(outgoing, address)``."""

    def __init__(self, mailer: SmtpMailer, sender: str):
        self.mailer, self.sender = mailer, sender

    def session(self):
        return _ChannelSession(self.mailer.session(), self.sender)


class _ChannelSession:
    def __init__(self, session: _Session, sender: str):
        self.inner, self.sender = session, sender

    def __enter__(self):
        send = self.inner.__enter__()
        return lambda outgoing, target: send(email_message(outgoing, self.sender, target))

    def __exit__(self, *exc_info):
        self.inner.__exit__(*exc_info)


class _Session:
    def __init__(self, settings: Smtp):
        self.settings = settings
        self.client: smtplib.SMTP | None = None

    def __enter__(self):
        s = self.settings
        try:
            password = s.password()  # read at send time: secrets stay in the environment only
            if s.security == "ssl":
                self.client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds,
                                               context=ssl.create_default_context())
            else:
                self.client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
                if s.security == "starttls":
                    self.client.starttls(context=ssl.create_default_context())
            if s.username:
                self.client.login(s.username, password)
        except (OSError, smtplib.SMTPException) as exc:
            self._close()
            raise classify(exc) from None
        return self.send

    def send(self, message: EmailMessage) -> None:
        """Send to every address in To; a recipient the server refuses while it takes others is an
        error too (send_message reports those in its return value, not by raising)."""
        try:
            refused = self.client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise classify(exc) from None
        if refused:
            raise classify(smtplib.SMTPRecipientsRefused(refused))

    def __exit__(self, *exc_info) -> None:
        self._close()

    def _close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (OSError, smtplib.SMTPException):
                self.client.close()
            self.client = None
