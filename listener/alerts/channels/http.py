"""What the channels that post JSON over HTTPS share: one POST, its answer read as a delivery outcome
(``listener.kernel.delivery.http_failure``), an idempotency key per message, a configurable timeout,
and errors that never show the URL (it holds the channel's token)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

from listener.alerts.settings import Channel
from listener.kernel.delivery import ChannelUnavailable, http_failure

from ..messages import Outgoing

Render = Callable[[Outgoing], Mapping]


def post_json(url: str, payload: Mapping, *, what: str, timeout: float, key: str | None = None,
              headers: Mapping[str, str] | None = None, auth=None, params=None) -> None:
    """POST ``payload``; a 2xx answer is delivered, anything else raises the DeliveryError it means.
    ``key`` goes as the ``Idempotency-Key`` header: a receiver that took a message whose answer timed
    out recognises it when it comes again."""
    import requests

    sent = {"Content-Type": "application/json", "User-Agent": "Ascolto", **(headers or {})}
    if key:
        sent["Idempotency-Key"] = key
    try:
        answer = requests.post(url, json=payload, headers=sent, timeout=timeout, auth=auth, params=params)
    except requests.Timeout:
        raise ChannelUnavailable(f"{what}: no answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise ChannelUnavailable(f"{what}: cannot connect ({type(exc).__name__})") from None
    if not 200 <= answer.status_code < 300:
        raise http_failure(answer.status_code, what)


class JsonSender:
    """A channel that posts each message as JSON to one URL (``render`` writes the payload)."""

    def __init__(self, channel: Channel, url: str, render: Render, **options):
        self.channel, self.url, self.render, self.options = channel, url, render, options

    @contextlib.contextmanager
    def session(self) -> Iterator[Callable[[Outgoing, str], None]]:
        what = f"channel {self.channel.name!r}"
        yield lambda outgoing, target: post_json(self.url, self.render(outgoing), what=what,
                                                 timeout=self.channel.timeout_seconds, key=outgoing.message_id,
                                                 **self.options)


def chat_facts(outgoing_entry, keys=("platform", "author", "when", "theme", "score", "customer", "order", "case")):
    """The facts a chat message shows, in this order: where, who, when, what about."""
    by_key = {fact.key: fact for fact in outgoing_entry.facts}
    return [by_key[key] for key in keys if key in by_key]


def chat_actions(entry, limit: int = 3):
    """The two or three links a chat message offers: the primary first; web links only."""
    actions = [a for a in entry.actions if not a.quiet and a.url.startswith(("https://", "http://"))]
    return sorted(actions, key=lambda a: not a.primary)[:limit]
