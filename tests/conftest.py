"""The fixtures every test module may use, each defined in its own module under tests/helpers."""

from helpers.api_server import api_server  # noqa: F401
from helpers.apps import make_app  # noqa: F401
from helpers.cli import ascolto  # noqa: F401
from helpers.clock import clock  # noqa: F401
from helpers.http import no_sleep, recorded_http, recorded_httpx  # noqa: F401
from helpers.models import offline_scorer, tiny_classifier_dir, tiny_encoder_dir  # noqa: F401
from helpers.smtp import smtp_server  # noqa: F401
from helpers.webhook import webhook  # noqa: F401
