"""The command line run in-process, with the test clock: no command a test runs reads the real time."""

from __future__ import annotations

import pytest


@pytest.fixture
def ascolto(clock):
    """``ascolto(["report", "--config", path])``: click's CliRunner on the root group, with the test
    clock handed to every App the command opens (``listener.cli.common.World``)."""
    from click.testing import CliRunner

    from listener.cli.common import World
    from listener.cli.main import cli

    def invoke(args, **kwargs):
        return CliRunner().invoke(cli, [str(a) for a in args], obj=World(now=clock), **kwargs)

    return invoke
