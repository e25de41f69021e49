"""Which channels and targets an alert goes to: each channel's filters (brands, kinds, sources,
languages) decide; an email channel adds the brand's own recipients.

Without ``[[alerts.channels]]`` there is one email channel, "email", to ``[alerts] recipients``; the
weekly digest goes to ``[reports] recipients`` through an email channel of its own, "reports".
"""

from __future__ import annotations

from collections.abc import Sequence

from listener.alerts.settings import Alerts, Channel
from listener.settings import Brand, Reports
from listener.store.alerts import Route

DEFAULT_EMAIL = "email"
REPORTS = "reports"


def channels(settings: Alerts, reports: Reports | None = None) -> tuple[Channel, ...]:
    configured = settings.channels or (Channel(name=DEFAULT_EMAIL, type="email", recipients=settings.recipients),)
    if reports is not None:
        configured += (Channel(name=REPORTS, type="email", recipients=reports.recipients, kinds=("digest",)),)
    return configured


def accepts(channel: Channel, kind: str, brand: Brand | None, source: str | None, lang: str | None) -> bool:
    """A channel with no filter takes every kind of alert but the weekly digest, which goes to [reports]."""
    kinds_ok = kind in channel.kinds if channel.kinds else kind != "digest"
    return (kinds_ok and (not channel.brands or (brand is not None and brand.name in channel.brands))
            and (not channel.sources or source in channel.sources)
            and (not channel.languages or lang in channel.languages))


def routes(all_channels: Sequence[Channel], kind: str, brand: Brand | None = None, source: str | None = None,
           lang: str | None = None) -> list[Route]:
    found = []
    for channel in all_channels:
        if not accepts(channel, kind, brand, source, lang):
            continue
        if channel.type == "email":
            extra = brand.recipients if brand is not None and kind != "digest" else ()
            found += [Route(channel.name, address, channel.mode) for address in dict.fromkeys([*channel.recipients,
                                                                                              *extra])]
        else:
            found.append(Route(channel.name, channel.name, channel.mode))
    return found
