"""The links of one invitation: eleven score links and an unsubscribe link, each with a signed token."""

from __future__ import annotations

from datetime import datetime, timedelta

from listener.kernel.signing import Token, sign

from .settings import SurveySettings

UNSUBSCRIBE_VALID_DAYS = 730  # an old email's unsubscribe link must keep working


def score_link(settings: SurveySettings, secret: bytes, public_id: str, score: int, expires: datetime) -> str:
    return settings.link(f"/s/{sign(Token('s', public_id, str(score), int(expires.timestamp())), secret)}")


def unsubscribe_link(settings: SurveySettings, secret: bytes, public_id: str, created: datetime) -> str:
    expires = created + timedelta(days=UNSUBSCRIBE_VALID_DAYS)
    return settings.link(f"/u/{sign(Token('u', public_id, '', int(expires.timestamp())), secret)}")
