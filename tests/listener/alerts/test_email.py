"""Alerts through a real SMTP server on loopback (aiosmtpd), and through its absence.

Each recipient gets a message of their own (a delivery per alert and address): a refused address
fails alone, and the links in a message are signed for the person who receives it.
"""


from email.utils import parsedate_to_datetime as parse_date

from helpers.net import free_port
from helpers.paths import FIXTURE_DIR
from listener.jobs.collect import run_import
from listener.jobs.dispatch import run_dispatch
from listener.kernel.times import parse_timestamp
from listener.sources.files import Settings as ImportSource


def smtp_app(make_app, port):
    return make_app(smtp=f'host = "127.0.0.1"\nport = {port}\nsecurity = "none"')


def import_fixture(app):
    run_import(app, ImportSource(name="t", path=FIXTURE_DIR / "mentions_with_problems.jsonl"))


def test_detractor_alert_arrives_with_its_content(make_app, smtp_server, clock):
    controller, inbox = smtp_server()
    app = smtp_app(make_app, controller.port)
    import_fixture(app)
    result = run_dispatch(app)
    assert (result.sent, result.messages, result.pending, result.failed) == (3, 3, 0, 0)
    messages = {(m["To"], m["Content-Language"]): m for m in inbox.messages()}
    italian = messages["cm@example.com", "it"]
    assert italian["Subject"] == "[Ascolto] Cliente scontento su X: giulia (Caffè Aurora)"  # the platform's name
    assert italian["From"] == "Ascolto <ascolto@example.com>"
    assert parse_date(italian["Date"]) == clock()  # when it went out, by the dispatcher's clock
    assert italian.is_multipart() and italian.get_content_type() == "multipart/alternative"
    text = italian.get_body(("plain",)).get_content()
    html = italian.get_body(("html",)).get_content()
    for expected in ("> Caffè Aurora pessimo, pacco rotto", "Autore: giulia", "Dove: X (https://x.com/giulia/status/100)",
                     "Perché l'avviso: un tono chiaramente negativo (sicuro al 90%)", "x:100"):
        assert expected in text  # the reason in words, not "confidence 90% (threshold 60%)"
    assert 'href="https://x.com/giulia/status/100"' in html and 'lang="it"' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html  # fits a phone
    english = messages["cm@example.com", "en"]  # the brand's own recipient gets the same alert separately
    assert english["Subject"] == messages["wool@example.com", "en"]["Subject"] == \
        "[Ascolto] Unhappy customer on Reddit: eve (Lanificio Vento)"
    assert "Why this alert: a clearly negative tone (90% sure)" in english.get_body(("plain",)).get_content()
    row = delivery(app, "x:100", "cm@example.com")
    assert (row["status"], row["sent_at"], row["attempts"]) == ("sent", "2026-11-23T09:00:00Z", 1)
    assert row["message_id"] == italian["Message-ID"]
    assert len(inbox.envelopes) == 3 and all(len(e.rcpt_tos) == 1 for e in inbox.envelopes)


def delivery(app, mention_id, target="cm@example.com"):
    return next(app.db.query("select d.* from deliveries d join alerts a on a.id = d.alert_id "
                             "where a.mention_id = ? and d.target = ?", [mention_id, target]))


def test_text_is_escaped_in_the_html_part(tmp_path, make_app, smtp_server):
    controller, inbox = smtp_server()
    app = smtp_app(make_app, controller.port)
    export = tmp_path / "evil.jsonl"
    export.write_text('{"id": "9", "source": "x", "author": "<b>mallory</b>", "text": "Caffè Aurora pessimo '
                      '<script>alert(1)</script>", "created_at": "2026-11-23T08:00:00Z", '
                      '"url": "javascript:alert(1)"}\n', encoding="utf-8")
    run_import(app, ImportSource(name="evil", path=export))
    run_dispatch(app)
    html = inbox.messages()[0].get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;mallory&lt;/b&gt;" in html
    assert 'href="javascript' not in html  # only http(s) links become links


def test_smtp_down_then_up_delivers_each_alert_exactly_once(make_app, clock, smtp_server):
    port = free_port()  # nothing listens here yet
    app = smtp_app(make_app, port)
    import_fixture(app)

    down = run_dispatch(app)
    assert (down.sent, down.retrying, down.pending) == (0, 3, 3)
    first = app.db["deliveries"].get(1)
    assert first["attempts"] == 1
    assert first["last_error"].startswith("ConnectionRefusedError")
    assert first["next_attempt_at"] == "2026-11-23T09:01:00Z"  # retry_seconds = 60

    controller, inbox = smtp_server(port=port)
    early = run_dispatch(app)  # not due yet: the back-off is respected
    assert early.sent == 0 and inbox.envelopes == []

    clock.advance(seconds=61)
    up = run_dispatch(app)
    assert (up.sent, up.pending) == (3, 0)
    clock.advance(hours=1)
    assert run_dispatch(app).sent == 0
    assert len(inbox.envelopes) == 3
    assert {d["status"] for d in app.db["deliveries"].rows} == {"sent"}


def test_backoff_doubles_up_to_its_cap(make_app, clock):
    app = smtp_app(make_app, free_port())
    import_fixture(app)
    waits = []
    for _ in range(6):
        run_dispatch(app)
        due = app.db["deliveries"].get(1)["next_attempt_at"]
        waits.append(due)
        clock.moment = parse_timestamp(due)
    assert waits[:5] == ["2026-11-23T09:01:00Z", "2026-11-23T09:03:00Z", "2026-11-23T09:07:00Z",
                         "2026-11-23T09:15:00Z", "2026-11-23T09:25:00Z"]  # 60, 120, 240, 480, then 600 cap
    assert app.db["deliveries"].get(1)["status"] == "pending"  # an outage never drops an alert


class RefusingInbox:
    envelopes = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such user here"


def test_permanent_refusal_is_failed_with_the_reply_not_retried(make_app, smtp_server):
    controller, _ = smtp_server(handler=RefusingInbox())
    app = smtp_app(make_app, controller.port)
    import_fixture(app)
    result = run_dispatch(app)
    assert (result.sent, result.failed, result.pending) == (0, 3, 0)
    first = app.db["deliveries"].get(1)
    assert first["status"] == "failed" and "550" in first["last_error"]


def test_without_smtp_alerts_wait_in_the_outbox(make_app):
    app = make_app(smtp='host = ""')
    import_fixture(app)
    result = run_dispatch(app)
    assert (result.smtp_configured, result.sent, result.pending) == (False, 0, 3)
    assert {d["status"] for d in app.db["deliveries"].rows} == {"pending"}
