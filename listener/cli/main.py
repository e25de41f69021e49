"""The root `ascolto` group: logging, and every command group added from its own module."""

from __future__ import annotations

import logging
import sys

import click

from . import alerts, cases, cluster, reports, run, sentiment, surveys, themes
from .common import World


@click.group()
@click.version_option(package_name="ascolto")
@click.option("-v", "--verbose", is_flag=True, help="Log each job's progress, not only problems.")
@click.pass_context
def cli(context: click.Context, verbose: bool) -> None:
    """Ascolto: brand mentions and NPS replies, scored for sentiment, with an alert for every detractor."""
    context.ensure_object(World)  # the real clock, unless a test handed in its own
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="ascolto: %(message)s",
                        stream=sys.stderr)
    # tweepy and prawcore log request headers (bearer tokens included) at DEBUG: keep them quieter.
    for noisy in ("tweepy", "prawcore", "praw", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A first run pauses a minute to build the offline model: say so, whatever the verbosity.
    logging.getLogger("sentiment.building").setLevel(logging.INFO)


for module in (run, reports, alerts, cases, sentiment, surveys, themes, cluster):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    cli(prog_name="ascolto")
