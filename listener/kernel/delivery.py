"""Why a message could not be delivered: worth trying again later, or never going to work.

Survey invitations and alerts both go out through channels (SMTP first). The channels live in
listener; survey code only needs to tell the two kinds of failure apart. This module is the one
place both packages may import (surveys imports no listener code), so the errors are defined here.
"""


class DeliveryError(Exception):
    """A message was not delivered; ``permanent`` says whether retrying can help."""

    permanent = False


class TransientDeliveryError(DeliveryError):
    """Worth retrying: the server is down or busy, the network failed, a 4xx reply, a rate limit."""

    permanent = False


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help: a 5xx reply such as an unknown recipient or a refused login."""

    permanent = True
