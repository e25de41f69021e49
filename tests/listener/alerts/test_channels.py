"""Alert channels for real: Slack, Teams and Telegram get native messages (Block Kit, an Adaptive Card,
HTML with buttons), checked at the HTTP layer against recorded answers, 429 included; a JSON webhook
and ntfy (through Apprise) receive on a server on loopback. A failing channel never holds up another,
a message refused as too large is split or cut, a bad URL is a configuration error that names its
variable and never shows the token, and nothing is delivered twice."""

import json
import re

import pytest

from listener.jobs.collect import run_import
from listener.jobs.dispatch import run_dispatch
from listener.sources.files import Settings as ImportSource

SLACK = "https://hooks.slack.com/services/T0ASCOLTO/B0ALERTS/xyzFakeTokenForTests"
TEAMS = ("https://prod-12.westeurope.logic.azure.com:443/workflows/4d1f2e3a5b6c/triggers/manual/paths/invoke"
         "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=FakeSignatureForTests")
TELEGRAM_TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghij"
WEB = '[web]\nbase_url = "https://ascolto.caffeaurora.example"\n'


def channel(name: str, url_env: str, kind: str = "apprise", **extra) -> str:
    lines = [f'[[alerts.channels]]\nname = "{name}"\ntype = "{kind}"\nurl_env = "{url_env}"']
    lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def import_one(app, tmp_path, text="Caffè Aurora pessimo, pacco rotto", author="giulia", source="x", ident="1",
               lang="it"):
    path = tmp_path / f"m{ident}.jsonl"
    path.write_text(json.dumps({"id": ident, "source": source, "author": author, "text": text, "lang": lang,
                                "created_at": "2026-11-23T08:30:00Z", "url": f"https://x.com/{author}/status/{ident}"})
                    + "\n", encoding="utf-8")
    return run_import(app, ImportSource(name=f"t{ident}", path=path))


def test_a_json_webhook_and_ntfy_receive_the_alert_on_loopback(make_app, tmp_path, webhook, monkeypatch):
    port, recorder = webhook
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:{port}/hook")
    monkeypatch.setenv("NTFY_URL", f"ntfy://127.0.0.1:{port}/ascolto-alerts")
    app = make_app(smtp='host = ""', extra=channel("hook", "HOOK_URL") + channel("phone", "NTFY_URL"))
    import_one(app, tmp_path)
    result = run_dispatch(app)
    assert (result.sent, result.messages, result.pending) == (2, 2, 0)
    by_path = {r["path"]: r for r in recorder.requests}
    hook = json.loads(by_path["/hook"]["body"])  # Apprise's JSON shape, so Apprise receivers keep working
    assert hook["title"] == "[Ascolto] Cliente scontento su X: giulia (Caffè Aurora)" and hook["type"] == "warning"
    assert "> Caffè Aurora pessimo, pacco rotto" in hook["message"] and "Autore: giulia" in hook["message"]
    entry = hook["ascolto"]["entries"][0]  # and the alert as data
    assert entry["text"] == "Caffè Aurora pessimo, pacco rotto" and entry["facts"]["author"] == "giulia"
    assert by_path["/hook"]["headers"]["Idempotency-Key"] == hook["ascolto"]["message_id"]
    ntfy = json.loads(by_path["/"]["body"])  # ntfy, through Apprise: the topic is in the JSON body
    assert ntfy["topic"] == "ascolto-alerts" and "Caffè Aurora pessimo" in ntfy["message"]
    assert run_dispatch(app).sent == 0 and len(recorder.requests) == 2  # nothing twice


def test_a_channel_down_then_up_delivers_exactly_once_and_never_holds_up_another(make_app, tmp_path, webhook,
                                                                                  smtp_server, clock, monkeypatch):
    port, recorder = webhook
    recorder.answers = [503, 503]
    controller, inbox = smtp_server()
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:{port}/hook")
    extra = (channel("hook", "HOOK_URL")
             + '[[alerts.channels]]\nname = "team"\ntype = "email"\nrecipients = ["cm@example.com"]\n')
    app = make_app(smtp=f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"', extra=extra)
    import_one(app, tmp_path)
    down = run_dispatch(app)
    assert (down.sent, down.retrying) == (1, 1) and len(inbox.envelopes) == 1  # email went out all the same
    hook = app.db.execute("select status, attempts, last_error, next_attempt_at from deliveries "
                          "where channel = 'hook'").fetchone()
    assert hook[:2] == ("pending", 1) and "hook" in hook[2] and "503" in hook[2] and hook[3] == "2026-11-23T09:01:00Z"
    clock.advance(seconds=61)
    assert run_dispatch(app).retrying == 1  # still down
    clock.advance(minutes=3)
    up = run_dispatch(app)
    assert up.sent == 1 and [r["status"] for r in recorder.requests] == [503, 503, 200]
    keys = {r["headers"]["Idempotency-Key"] for r in recorder.requests}
    assert len(keys) == 1  # the same message each time: a receiver can tell a retry from a new alert
    clock.advance(hours=2)
    assert run_dispatch(app).sent == 0 and len(recorder.requests) == 3 and len(inbox.envelopes) == 1


def test_slack_teams_and_telegram_get_native_messages_and_a_429_waits(make_app, tmp_path, recorded_http,
                                                                      monkeypatch, clock):
    monkeypatch.setenv("ASCOLTO_SECRET", "s" * 32)
    monkeypatch.setenv("SLACK_URL", SLACK)
    monkeypatch.setenv("TEAMS_URL", TEAMS)
    monkeypatch.setenv("TELEGRAM_URL", f"tgram://{TELEGRAM_TOKEN}/-1001234567890")
    recorded_http.post(SLACK, status=429, headers={"Retry-After": "30"}, body="rate_limited")
    recorded_http.post(SLACK, status=200, body="ok")
    recorded_http.post(TEAMS.split("?")[0], status=202)
    recorded_http.post(f"https://api.telegram.org/bot{TELEGRAM_TOKEN}/sendMessage",
                       json={"ok": True, "result": {"message_id": 1}})
    extra = channel("slack", "SLACK_URL", "slack") + channel("teams", "TEAMS_URL") + channel("tg", "TELEGRAM_URL")
    app = make_app(smtp='host = ""', extra=extra + WEB)
    import_one(app, tmp_path)
    first = run_dispatch(app)
    assert (first.sent, first.retrying) == (2, 1)  # Slack answered 429: it waits, the others went
    clock.advance(minutes=2)
    assert run_dispatch(app).sent == 1
    calls = {c.request.url.split("?")[0]: c.request for c in recorded_http.calls}

    slack = json.loads(calls[SLACK].body)
    assert slack["username"] == "Ascolto" and slack["attachments"][0]["color"] == "#c0392b"  # warning colour
    blocks = slack["attachments"][0]["blocks"]
    assert blocks[0]["text"]["text"].startswith("*Cliente scontento su X: giulia (Caffè Aurora)*")
    assert blocks[1]["text"]["text"] == "&gt; Caffè Aurora pessimo, pacco rotto"  # a quote, escaped as Slack wants
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert fields[:3] == ["*Dove*\n<https://x.com/giulia/status/1|X>", "*Autore*\ngiulia", "*Quando*\n23/11/2026 09:30"]
    buttons = blocks[3]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Rispondi", "Lo prendo io"] and buttons[0]["style"] == "primary"
    assert "Non è un reclamo" in blocks[4]["elements"][0]["text"]  # the model's feedback, in small print
    assert len(re.findall(r"https://", json.dumps(slack))) <= 6  # a few labelled links, not a wall of URLs

    teams = json.loads(calls[TEAMS.split("?")[0]].body)
    card = teams["attachments"][0]["content"]
    assert teams["type"] == "message" and card["type"] == "AdaptiveCard" and card["body"][0]["color"] == "Attention"
    assert {"title": "Autore", "value": "giulia"} in next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert next(b for b in card["body"] if b["type"] == "ActionSet")["actions"][0]["title"] == "Rispondi"

    telegram = json.loads(calls[f"https://api.telegram.org/bot{TELEGRAM_TOKEN}/sendMessage"].body)
    assert telegram["chat_id"] == -1001234567890 and telegram["parse_mode"] == "HTML"
    assert "<blockquote>Caffè Aurora pessimo, pacco rotto</blockquote>" in telegram["text"]
    assert telegram["reply_markup"]["inline_keyboard"][0][0]["text"] == "Rispondi"
    assert [c.response.status_code for c in recorded_http.calls].count(429) == 1 and len(recorded_http.calls) == 4
    secrets = (SLACK, "FakeSignatureForTests", TELEGRAM_TOKEN)
    stored = json.dumps([list(r) for r in app.db.execute("select * from deliveries")])
    assert not any(secret in stored for secret in secrets)  # tokens stay in the environment


def test_a_message_refused_as_too_large_is_cut_and_the_others_go_on(make_app, tmp_path, webhook, monkeypatch):
    port, recorder = webhook
    recorder.answers = [413]  # the first message (the long one) is refused for its size once
    monkeypatch.setenv("HOOK_URL", f"http://127.0.0.1:{port}/hook")
    app = make_app(smtp='host = ""', extra=channel("hook", "HOOK_URL", "webhook"))
    import_one(app, tmp_path, text="Caffè Aurora pessimo " + "davvero " * 400, author="anna", ident="1")
    import_one(app, tmp_path, author="bruno", ident="2")
    result = run_dispatch(app)
    assert (result.sent, result.failed, result.retrying) == (2, 0, 0)
    statuses = [r["status"] for r in recorder.requests]
    assert statuses == [413, 200, 200]  # refused, then the same alert cut short, then the next one
    again = json.loads(recorder.requests[1]["body"])["ascolto"]["entries"][0]["text"]
    assert len(again) < 300 and again.endswith("[…]")


def test_a_refusal_that_will_not_change_fails_alone(make_app, tmp_path, webhook, monkeypatch):
    port, recorder = webhook
    recorder.answers = [404]
    monkeypatch.setenv("HOOK_URL", f"http://127.0.0.1:{port}/hook")
    app = make_app(smtp='host = ""', extra=channel("hook", "HOOK_URL", "webhook"))
    import_one(app, tmp_path, author="anna", ident="1")
    import_one(app, tmp_path, author="bruno", ident="2")
    result = run_dispatch(app)
    assert (result.sent, result.failed, result.retrying) == (1, 1, 0)  # a 404 fails that message only
    failed = app.db.execute("select last_error from deliveries where status = 'failed'").fetchone()[0]
    assert "refused (404)" in failed and "127.0.0.1" not in failed  # the reason, never the URL


def test_a_bad_channel_url_is_one_error_line_naming_the_variable_not_the_token(make_app, monkeypatch, ascolto,
                                                                                capfd):
    monkeypatch.setenv("ASCOLTO_SLACK_URL", "notascheme://TOKBAD77/xyz")
    app = make_app(smtp='host = ""', extra=channel("slack", "ASCOLTO_SLACK_URL"))
    result = ascolto(["alerts", "send", "--config", str(app.config.path)])
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: alert channel 'slack': environment variable ASCOLTO_SLACK_URL does not "
                                     "hold a URL Apprise understands (see the README, Alerts and channels)")
    printed = capfd.readouterr()
    assert "TOKBAD77" not in result.output + printed.out + printed.err


def test_a_channel_without_its_url_waits_naming_the_variable(make_app, tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_URL", raising=False)
    app = make_app(smtp='host = ""', extra=channel("slack", "NOT_SET_URL"))
    import_one(app, tmp_path)
    result = run_dispatch(app)
    assert (result.sent, result.retrying, result.failed) == (0, 1, 0)
    assert "environment variable NOT_SET_URL is not set" in app.db.execute("select last_error from deliveries"
                                                                           ).fetchone()[0]


def test_routing_by_brand_kind_source_and_language(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("A", "json://127.0.0.1:9/a")
    extra = (channel("wool", "A", brands=["Lanificio Vento"])
             + channel("reddit-en", "A", sources=["reddit"], languages=["en"])
             + channel("surveys-only", "A", kinds=["detractor_response"]) + channel("all", "A"))
    app = make_app(smtp='host = ""', extra=extra)
    import_one(app, tmp_path, "Lanificio Vento, the worst", source="reddit", ident="1", lang="en")
    import_one(app, tmp_path, "Lanificio Vento, worst ever", source="reddit", ident="2", lang="it")
    import_one(app, tmp_path, "Caffè Aurora pessimo", ident="3")
    routed = {}
    for mention, name in app.db.execute("select a.mention_id, d.channel from deliveries d join alerts a on "
                                        "a.id = d.alert_id"):
        routed.setdefault(mention, set()).add(name)
    assert routed == {"reddit:1": {"wool", "reddit-en", "all"}, "reddit:2": {"wool", "all"}, "x:3": {"all"}}
    assert app.db.execute("select count(*) from deliveries where channel = 'surveys-only'").fetchone()[0] == 0


@pytest.mark.parametrize("setting,problem", [
    ('type = "apprise"', "url_env: is required for apprise channels"),
    ('type = "pager"', "type: expected one of email, slack, teams, telegram, webhook, apprise"),
    ('type = "email"\nbrands = ["Nope"]', "brands: no brand named 'Nope'"),
    ('type = "email"\nquiet_hours = [22]', "quiet_hours: expected [start hour, end hour]"),
    ('type = "email"\nmode = "weekly"', "mode: expected one of immediate, hourly, daily"),
])
def test_bad_channels_name_the_key(tmp_path, setting, problem):
    from helpers.apps import write_config
    from listener.config import load_config
    from listener.kernel.errors import ConfigError

    path = write_config(tmp_path, extra=f'[[alerts.channels]]\nname = "c"\n{setting}\n')
    with pytest.raises(ConfigError, match=re.escape(f"alerts.channels[0].{problem}")):
        load_config(path)
