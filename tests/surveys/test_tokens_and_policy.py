"""Signed links and the contact policy, with a fixed clock."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from listener.kernel.signing import LEGACY_UNTIL, Token, TokenError, TokenExpired, legacy_sign, sign, verify
from surveys.policy import ContactPolicy, in_quiet_hours, may_invite, may_remind

SECRET = b"0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # 11:00 in Rome
ROME = ZoneInfo("Europe/Rome")
LATER = int((NOW + timedelta(days=30)).timestamp())


def test_a_signed_token_verifies_and_carries_its_fields():
    text = sign(Token("s", "abc_DEF-123", "0", LATER), SECRET)
    assert verify(text, SECRET, NOW, "s") == Token("s", "abc_DEF-123", "0", LATER)


@pytest.mark.parametrize("mutate", [
    lambda t: t.replace(t.split(".")[0], sign(Token("s", "abc", "9", LATER), SECRET).split(".")[0]),  # score 0 -> 9
    lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),  # signature tampered
    lambda t: sign(Token("s", "abc", "0", LATER), b"another secret, same length ok"),  # forged with a guess
    lambda t: "not-a-token",
    lambda t: t + ".extra",
    lambda t: "",
    lambda t: t + "=",  # the same bytes, another URL: refused (a link works in the one form we wrote)
    lambda t: t + "==",
])
def test_forged_or_tampered_tokens_are_refused(mutate):
    genuine = sign(Token("s", "abc", "0", LATER), SECRET)
    with pytest.raises(TokenError):
        verify(mutate(genuine), SECRET, NOW, "s")


def test_expired_and_wrong_kind_are_refused():
    text = sign(Token("s", "abc", "5", int((NOW - timedelta(seconds=1)).timestamp())), SECRET)
    with pytest.raises(TokenExpired):
        verify(text, SECRET, NOW, "s")
    unsubscribe = sign(Token("u", "abc", "", LATER), SECRET)
    with pytest.raises(TokenError, match="another kind"):
        verify(unsubscribe, SECRET, NOW, "s")


def test_links_sent_before_itsdangerous_still_work_until_they_expire_and_only_in_their_own_form():
    """An unsubscribe link in a 2026 email keeps working (two years); its tampered or padded copies do not."""
    old = legacy_sign(Token("u", "abc", "", LATER), SECRET)
    assert verify(old, SECRET, NOW, "u") == Token("u", "abc", "", LATER)
    for copy in (old + "=", old[:-2] + ("AA" if old[-2:] != "AA" else "BB"), legacy_sign(Token("u", "abc", "", LATER),
                                                                                        b"another secret, same length")):
        with pytest.raises(TokenError):
            verify(copy, SECRET, NOW, "u")
    long_lived = legacy_sign(Token("u", "abc", "", int(LEGACY_UNTIL.timestamp()) + 86400), SECRET)
    assert verify(long_lived, SECRET, NOW, "u").public_id == "abc"
    with pytest.raises(TokenError, match="bad signature"):  # the old format is read for its links' lifetime only
        verify(long_lived, SECRET, LEGACY_UNTIL, "u")


POLICY = ContactPolicy(delay_days=3, min_days_between_surveys=90, reminder_after_days=4, link_valid_days=30,
                       quiet_start_hour=21, quiet_end_hour=9, daily_cap=2)


def invite(**changes):
    facts = dict(legal_basis="consent", unsubscribed=False, purchased_at=NOW - timedelta(days=4),
                 last_surveyed_at=None, sent_today=0, now=NOW, zone=ROME, policy=POLICY)
    facts.update(changes)
    return may_invite(**facts)


def test_an_eligible_customer_may_be_invited():
    assert invite().send and invite(legal_basis="legitimate_interest").send


@pytest.mark.parametrize("changes,reason,final", [
    ({"legal_basis": None}, "no recorded legal basis", True),
    ({"legal_basis": "newsletter"}, "no recorded legal basis", True),
    ({"unsubscribed": True}, "unsubscribed", True),
    ({"last_surveyed_at": NOW - timedelta(days=89)}, "surveyed less than 90 days ago", True),
    ({"purchased_at": NOW - timedelta(days=2, hours=23)}, "waiting 3 days after the purchase", False),
    ({"now": datetime(2026, 11, 23, 20, 30, tzinfo=timezone.utc)}, "quiet hours", False),  # 21:30 in Rome
    ({"sent_today": 2}, "daily cap reached", False),
])
def test_each_rule_refuses_with_its_reason(changes, reason, final):
    decision = invite(**changes)
    assert (decision.send, decision.reason, decision.final) == (False, reason, final)


def test_ninety_days_later_a_customer_may_be_asked_again():
    assert invite(last_surveyed_at=NOW - timedelta(days=90)).send


def test_quiet_hours_follow_the_brand_time_zone_and_wrap_midnight():
    utc_8 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)  # 09:00 in Rome, 08:00 in London
    assert not in_quiet_hours(utc_8, ROME, POLICY)
    assert in_quiet_hours(utc_8, ZoneInfo("Europe/London"), POLICY)
    assert in_quiet_hours(datetime(2026, 11, 23, 23, 59, tzinfo=timezone.utc), ROME, POLICY)
    day_shift = ContactPolicy(quiet_start_hour=13, quiet_end_hour=15)
    assert in_quiet_hours(datetime(2026, 11, 23, 13, 0, tzinfo=timezone.utc), ROME, day_shift)  # 14:00


def remind(**changes):
    facts = dict(unsubscribed=False, answered=False, reminded=False, sent_at=NOW - timedelta(days=4),
                 expires_at=NOW + timedelta(days=26), sent_today=0, now=NOW, zone=ROME, policy=POLICY)
    facts.update(changes)
    return may_remind(**facts)


def test_one_reminder_after_k_days_and_never_more():
    assert remind().send
    assert not remind(sent_at=NOW - timedelta(days=3)).send
    assert not remind(reminded=True).send and remind(reminded=True).final
    assert not remind(answered=True).send
    assert not remind(unsubscribed=True).send
    assert remind(expires_at=NOW).reason == "links expired"
    assert not may_remind(unsubscribed=False, answered=False, reminded=False, sent_at=NOW - timedelta(days=9),
                          expires_at=NOW + timedelta(days=1), sent_today=0, now=NOW, zone=ROME,
                          policy=ContactPolicy(reminder_after_days=0)).send
