"""Sending mail over SMTP, with failures sorted into 'try again later' and 'will never work'."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from surveys.delivery import PermanentDeliveryError, TransientDeliveryError

from ...settings import Smtp


def classify(exc: Exception) -> Exception:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if all(code >= 500 for code in codes):
            return PermanentDeliveryError(f"all recipients refused: {_reply_text(exc.recipients)}")
        return TransientDeliveryError(f"recipients refused for now: {_reply_text(exc.recipients)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace') if isinstance(exc.smtp_error, bytes) else exc.smtp_error}"
        return (PermanentDeliveryError if exc.smtp_code >= 500 else TransientDeliveryError)(f"SMTP server replied {reply}")
    return TransientDeliveryError(f"{type(exc).__name__}: {exc}".rstrip(": "))


def _reply_text(recipients: dict) -> str:
    return "; ".join(f"{addr} {code}" for addr, (code, _msg) in recipients.items())


class SmtpMailer:
    """One SMTP session per dispatch run: ``with mailer.session() as send: send(message)``."""

    def __init__(self, settings: Smtp):
        self.settings = settings

    def session(self) -> _Session:
        return _Session(self.settings)


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
        try:
            self.client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise classify(exc) from None

    def __exit__(self, *exc_info) -> None:
        self._close()

    def _close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (OSError, smtplib.SMTPException):
                self.client.close()
            self.client = None
