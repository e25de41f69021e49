"""Why a message could not be delivered, in the terms a sender acts on.

- ``TransientDeliveryError``: this message, later (a 4xx reply about it, a timeout the receiver
  asks to retry): it backs off alone; the others go on.
- ``ChannelUnavailable``: nothing gets through this channel now (cannot connect, 5xx, a rate
  limit): the rest of this run's messages for it wait, each with its own back-off.
- ``PermanentDeliveryError``: retrying will not help (a 5xx about a recipient, a malformed URL, a
  4xx reply that will not change on retry): this delivery fails alone, with the reason.
- ``MessageTooLarge``: the receiver refuses the message's size: the sender cuts or splits it and
  tries again; only what cannot be made small enough fails.

Survey invitations and alerts both go out through channels (SMTP first); this module is in the
kernel so that both packages classify failures alike.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A message was not delivered; the attributes say what a sender should do about it."""

    permanent = False  # retrying will not help
    channel_down = False  # nothing goes through the channel for now
    too_large = False  # the receiver refuses the message's size


class TransientDeliveryError(DeliveryError):
    """Worth retrying this message later."""


class ChannelUnavailable(TransientDeliveryError):
    """The channel takes nothing now: the server is down or unreachable, or its rate limit is reached."""

    channel_down = True


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help: a refused recipient or login, a malformed address."""

    permanent = True


class MessageTooLarge(PermanentDeliveryError):
    """The receiver refuses the message's size: cut or split it, then try again."""

    too_large = True


def http_failure(status: int, what: str) -> DeliveryError:
    """The failure an HTTP answer means: 5xx and 429 the channel is down (for now); 408 and 425 this
    message later; 413 too large; any other 4xx will not change on retry."""
    if status == 413:
        return MessageTooLarge(f"{what}: refused as too large ({status})")
    if status >= 500 or status == 429:
        return ChannelUnavailable(f"{what}: answered {status}")
    if status in (408, 425):
        return TransientDeliveryError(f"{what}: answered {status}, try later")
    return PermanentDeliveryError(f"{what}: refused ({status}); it will not change on retry")
