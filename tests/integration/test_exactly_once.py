"""Exactly once: three dispatchers and three survey senders at once, in separate processes, against a
real SMTP server and a real webhook receiver on loopback: every alert and every invitation arrives
once. Bounded: 60 alerts, 40 invitations, 127.0.0.1 only."""

import json
from collections import Counter
from datetime import timedelta

from helpers.clock import Clock
from helpers.paths import worker
from listener.jobs.collect import run_import
from listener.kernel.times import iso, utc_now
from listener.sources.files import Settings as ImportSource
from surveys.invitations import InvitationCounts, plan

ALERTS, INVITATIONS, SENDERS = 60, 40, 3




def test_three_dispatchers_and_three_survey_senders_send_each_message_once(make_app, smtp_server, webhook,
                                                                           monkeypatch, tmp_path):
    controller, inbox = smtp_server()
    port, hook = webhook
    monkeypatch.setenv("ASCOLTO_SECRET", "s" * 32)
    monkeypatch.setenv("ASCOLTO_HOOK_URL", f"json://127.0.0.1:{port}/alerts")
    # The workers run on the real clock (and on faketime's, under CI): so does this test's data.
    now = Clock(utc_now().replace(microsecond=0))
    config = tmp_path / "ascolto.toml"
    config.write_text(f'''
[database]
path = "test.db"
[[brands]]
name = "Caffè Aurora"
keywords = ["Caffè Aurora"]
[alerts]
sender = "ascolto@example.com"
group_window_minutes = 0
hourly_cap = 1000
[alerts.smtp]
host = "127.0.0.1"
port = {controller.port}
security = "none"
[[alerts.channels]]
name = "team"
type = "email"
recipients = ["cm@example.com"]
[[alerts.channels]]
name = "hook"
type = "apprise"
url_env = "ASCOLTO_HOOK_URL"
[web]
base_url = "http://127.0.0.1:8080"
[surveys]
sender = "sondaggi@example.com"
delay_days = 0
quiet_hours = [0, 0]
daily_cap = 1000
''', encoding="utf-8")
    app = make_app(config=config, now=now)
    export = tmp_path / "complaints.jsonl"
    export.write_text("".join(json.dumps({"id": str(i), "source": "x", "author": f"cliente{i}",
                                          "text": f"Caffè Aurora pessimo, ordine {i} mai arrivato",
                                          "created_at": iso(now() - timedelta(hours=1))}) + "\n"
                            for i in range(ALERTS)))  # fresh: each its own message, not the backlog list
    assert run_import(app, ImportSource(name="complaints", path=export)).new == ALERTS
    db = app.db
    for i in range(INVITATIONS):
        with db.atomic():
            db.execute("insert into customers (email, lang, legal_basis, created_at) values (?, 'it', 'consent', ?)",
                       [f"c{i}@example.com", "2026-11-01T00:00:00Z"])
            db.execute("insert into orders (order_ref, brand, customer_id, purchased_at, received_at) "
                       "values (?, 'Caffè Aurora', ?, ?, ?)", [f"O-{i}", i + 1, "2026-11-01T00:00:00Z",
                                                               "2026-11-01T00:00:00Z"])
    plan(db, app.config.surveys, {b.name: b.zone for b in app.config.brands}, now(), InvitationCounts())
    assert db.execute("select count(*) from survey_invitations where status = 'pending'").fetchone()[0] == INVITATIONS

    processes = [worker(kind, app.config.path) for _ in range(SENDERS) for kind in ("dispatch", "invite")]
    outputs = [process.communicate(timeout=240) for process in processes]

    for (out, err), process in zip(outputs, processes):
        assert process.returncode == 0 and "Traceback" not in err, err
    ids = Counter(m["Message-ID"] for m in inbox.messages())
    alert_ids = {i: n for i, n in ids.items() if i.startswith("<ascolto.")}
    survey_ids = {i: n for i, n in ids.items() if i.startswith("<survey.")}
    assert len(alert_ids) == ALERTS and set(alert_ids.values()) == {1}  # each alert emailed once
    assert len(survey_ids) == INVITATIONS and set(survey_ids.values()) == {1}  # each customer invited once
    titles = Counter(json.loads(r["body"])["title"] for r in hook.requests)
    assert len(titles) == ALERTS and set(titles.values()) == {1}  # each alert posted to the webhook once
    assert db.execute("select count(*) from deliveries where status != 'sent' or claimed_by is not null"
                      ).fetchone()[0] == 0
    sent = sum(json.loads(out.strip().splitlines()[-1]).get("sent", 0) for out, _ in outputs)
    assert sent == 2 * ALERTS + INVITATIONS  # what the senders say they sent adds up, once
