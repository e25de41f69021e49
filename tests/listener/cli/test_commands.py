"""The CLI: help on every command, and the main job end to end on the example config."""

import json
import os
import re
import shutil
import subprocess
import sys

import click
import pytest
import sqlite_utils

from helpers.apps import write_config
from helpers.paths import EXAMPLE_CONFIG
from listener.cli.main import cli


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("path,command", list(all_commands(cli)), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_one_line_help(path, command, ascolto):
    assert command.help and command.get_short_help_str(200).strip(), f"ascolto {' '.join(path)} has no help"
    result = ascolto([*path, "--help"])
    assert result.exit_code == 0 and "Usage: " in result.output


def test_import_refuses_an_unknown_brand(tmp_path, ascolto):
    config = tmp_path / "c.toml"
    config.write_text(EXAMPLE_CONFIG.read_text().replace('path = "../ascolto.db"', f'path = "{tmp_path / "a.db"}"')
                      .replace('path = "sample_mentions.jsonl"', f'path = "{EXAMPLE_CONFIG.parent / "sample_mentions.jsonl"}"'))
    result = ascolto(["import", str(EXAMPLE_CONFIG.parent / "sample_mentions.jsonl"),
                                      "--config", str(config), "--brand", "Nope"])
    assert result.exit_code == 1 and "--brand: no brand named 'Nope'" in result.output


def test_sources_shows_what_each_source_lacks_and_the_types_not_used(tmp_path, monkeypatch, ascolto):
    monkeypatch.delenv("YOUTUBE_API_KEY", raising=False)
    monkeypatch.setenv("BLUESKY_HANDLE", "caffeaurora.bsky.social")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "abcd-efgh-ijkl-mnop")
    config = tmp_path / "ascolto.toml"
    config.write_text(EXAMPLE_CONFIG.read_text().replace('path = "../ascolto.db"', f'path = "{tmp_path / "a.db"}"'))
    from listener.store.database import open_db
    from listener.store.runs import finish_run, start_run

    db = open_db(tmp_path / "a.db")
    finish_run(db, start_run(db, "import:sample", "2026-11-23T08:00:00Z"), "2026-11-23T08:00:05Z", "ok")
    db.close()
    result = ascolto(["sources", "--config", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    sample = next(line for line in lines if line.startswith("import:sample"))
    assert "last run 23/11/2026 09:00" in sample  # the team's clock (Rome), not UTC
    youtube = lines.index(next(line for line in lines if line.startswith("youtube:youtube")))
    assert lines[youtube + 1].strip() == "off until set: YOUTUBE_API_KEY"
    bluesky = lines.index(next(line for line in lines if line.startswith("bluesky:bluesky")))
    assert not lines[bluesky + 1].startswith("    off until set")  # both of its variables are set
    others = lines[lines.index("Other source types (README, Sources, says how to set each up):") + 1:]
    assert [line.split()[0] for line in others] == ["feed", "appstore", "googleplay"]


@pytest.mark.model
def test_main_job_once_on_the_example_config(tmp_path):
    """README command 1, in a scratch folder: real model, real SQLite file, alerts left in the outbox;
    then the report on the example shows NPS, themes and charts, on whatever day this runs (CI runs it
    under faketime too)."""
    for sample in ("sample_mentions.jsonl", "sample_orders.csv", "sample_replies.csv"):
        shutil.copy(EXAMPLE_CONFIG.parent / sample, tmp_path)
    config = tmp_path / "ascolto.toml"
    config.write_text(EXAMPLE_CONFIG.read_text().replace('path = "../ascolto.db"', 'path = "ascolto.db"'))
    credentials = {"X_BEARER_TOKEN", "REDDIT_CLIENT_ID", "BLUESKY_HANDLE", "MASTODON_ACCESS_TOKEN", "YOUTUBE_API_KEY",
                   "GOOGLE_REFRESH_TOKEN"}
    environment = {k: v for k, v in os.environ.items() if k not in credentials}
    result = subprocess.run([sys.executable, "-m", "listener", "run", "--once", "--config", str(config)],
                            capture_output=True, text=True, cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stderr
    assert "import:sample  fetched 51  new 50  scored 50" in result.stdout
    assert "[skipped: environment variable X_BEARER_TOKEN is not set" in result.stdout
    assert "SMTP not configured" in result.stdout
    db = sqlite_utils.Database(tmp_path / "ascolto.db")
    assert db["mentions"].count == 50
    assert db.execute("select count(*) from mentions where sentiment is null").fetchone()[0] == 0
    detractors = db.execute("select count(*) from mentions where nps_class = 'detractor'").fetchone()[0]
    assert 10 <= detractors <= 30
    assert db.execute("select count(*) from alerts where kind = 'detractor_mention'").fetchone()[0] == detractors
    negative = db["mentions"].get("x:1862001006")  # "Servizio clienti ... pessimo, non comprerò mai più"
    assert (negative["sentiment"], negative["nps_class"]) == ("negative", "detractor")
    again = subprocess.run([sys.executable, "-m", "listener", "run", "--once", "--config", str(config)],
                           capture_output=True, text=True, cwd=tmp_path)
    assert "new 0" in again.stdout
    assert db.execute("select count(*) from alerts where kind = 'detractor_mention'").fetchone()[0] == detractors
    report = subprocess.run([sys.executable, "-m", "listener", "report", "--config", str(config), "--html", "r.html"],
                            capture_output=True, text=True, cwd=tmp_path, env=environment)
    assert report.returncode == 0, report.stderr
    assert re.search(r"NPS [+-]\d+ \(95% CI", report.stdout) and "themes (NPS of answers" in report.stdout
    assert (tmp_path / "r.html").read_text().count("<svg") == 3


@pytest.mark.model
def test_score_json_says_negative_and_positive(ascolto):
    texts = ["Servizio clienti pessimo, non comprerò mai più", "Adoro questo prodotto, consegna velocissima!"]
    result = ascolto(["score", *texts, "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["label"] for r in rows] == ["negative", "positive"]
    assert set(rows[0]["probabilities"]) == {"negative", "neutral", "positive"}


def test_a_second_scheduler_on_one_database_says_it_is_already_running(tmp_path, ascolto):
    from listener.cli.run import one_scheduler

    config = write_config(tmp_path)
    held = one_scheduler(tmp_path / "test.db")  # the first `ascolto run`
    try:
        result = ascolto(["run", "--config", config])
        assert result.exit_code == 1
        assert f"ascolto run is already running on {tmp_path / 'test.db'} (pid {os.getpid()})" in result.output
    finally:
        held.close()


def test_reading_commands_work_without_the_smtp_password_and_serve_needs_the_link_secret(tmp_path, monkeypatch,
                                                                                         ascolto):
    monkeypatch.delenv("ASCOLTO_TEST_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("ASCOLTO_SECRET", "short")
    config = write_config(tmp_path, smtp='host = "mail"\nusername = "u"\npassword_env = "ASCOLTO_TEST_SMTP_PASSWORD"',
                          extra='[web]\nbase_url = "https://feedback.example.com"')
    for command in (["alerts", "list"], ["cases", "list"]):
        result = ascolto([*command, "--config", config])
        assert result.exit_code == 0, result.output
    sent = ascolto(["alerts", "send", "--config", config])
    assert sent.exit_code == 1 and "ASCOLTO_TEST_SMTP_PASSWORD is not set" in sent.output
    served = ascolto(["serve", "--config", config, "--port", "1"])
    assert served.exit_code == 1 and "environment variable ASCOLTO_SECRET is too short (5 characters" in served.output


def test_ascolto_datasette_stops_its_server_on_sigterm(tmp_path):
    """systemd and docker stop with SIGTERM: Datasette, its child, goes too (bounded waits)."""
    import signal
    import socket
    import time

    from helpers.net import free_port
    from helpers.paths import REPO
    from listener.app import App
    from listener.config import load_config

    config = write_config(tmp_path)
    App(load_config(config)).db  # the database exists
    port = free_port()
    parent = subprocess.Popen([sys.executable, "-m", "listener", "datasette", "--config", str(config), "--metadata",
                               str(REPO / "config" / "datasette.yaml"), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def serving() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    try:
        deadline = time.monotonic() + 60
        while not serving() and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.2)
        assert serving(), "Datasette did not start"
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == 0  # stopped as asked
        deadline = time.monotonic() + 10
        while serving() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not serving()  # no Datasette left serving alone
    finally:
        if parent.poll() is None:
            parent.kill()
