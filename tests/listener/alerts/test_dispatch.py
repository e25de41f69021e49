"""Messages, not floods: grouping by author, the hourly cap with one roll-up, digests, quiet hours;
with a fixed clock and a real SMTP server on loopback."""

import json

from listener.jobs.collect import run_import
from listener.jobs.dispatch import run_dispatch
from listener.sources.files import Settings as ImportSource


def smtp(controller) -> str:
    return f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"'


def with_alert_settings(make_app, smtp_body: str, settings: str):
    """An app whose [alerts] table has these extra keys."""
    from helpers.apps import write_config

    path = write_config(make_app.tmp_path, smtp=smtp_body)
    path.write_text(path.read_text(encoding="utf-8").replace("max_retry_seconds = 600",
                                                             f"max_retry_seconds = 600\n{settings}"), encoding="utf-8")
    return make_app(config=path)


def import_mentions(app, tmp_path, authors: list[str], name="batch", written="2026-11-23T08:00:00Z"):
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps({"id": f"{name}-{i}", "source": "x", "author": author, "lang": "it",
                                        "text": f"Caffè Aurora pessimo, ordine {i} mai arrivato",
                                        "created_at": written}) + "\n"
                            for i, author in enumerate(authors)), encoding="utf-8")
    return run_import(app, ImportSource(name=name, path=path))


def test_alerts_about_one_author_become_one_message_and_later_ones_wait_for_the_window(make_app, smtp_server,
                                                                                       tmp_path, clock):
    controller, inbox = smtp_server()
    app = make_app(smtp=smtp(controller))
    import_mentions(app, tmp_path, ["giulia", "giulia", "giulia", "marco"])
    first = run_dispatch(app)
    assert (first.sent, first.messages) == (4, 2)
    subjects = sorted(m["Subject"] for m in inbox.messages())
    assert subjects == ["[Ascolto] 3 messaggi di giulia su Caffè Aurora",
                        "[Ascolto] Cliente scontento su X: marco (Caffè Aurora)"]
    group = next(m for m in inbox.messages() if m["Subject"].startswith("[Ascolto] 3"))
    assert group.get_body(("plain",)).get_content().count("ordine") == 3
    clock.advance(minutes=5)
    import_mentions(app, tmp_path, ["giulia", "giulia"], name="later")
    assert run_dispatch(app).sent == 0  # giulia was alerted about 5 minutes ago: these wait for the window
    clock.advance(minutes=26)
    later = run_dispatch(app)
    assert (later.sent, later.messages) == (2, 1)
    assert inbox.messages()[-1]["Subject"] == "[Ascolto] 2 messaggi di giulia su Caffè Aurora"


def test_an_hourly_cap_rolls_up_the_rest_and_holds_more_for_the_next_hour(make_app, smtp_server, tmp_path, clock):
    controller, inbox = smtp_server()
    app = with_alert_settings(make_app, smtp(controller), "hourly_cap = 3")
    import_mentions(app, tmp_path, [f"user{i}" for i in range(10)])
    first = run_dispatch(app)
    assert (first.sent, first.messages) == (10, 4)  # 3 alerts, then one roll-up of the other 7
    rollup = inbox.messages()[-1]
    assert rollup["Subject"] == "[Ascolto] Altri 7 avvisi per Caffè Aurora nell'ultima ora"
    assert [line[:8] for line in rollup.get_body(("plain",)).get_content().splitlines() if line.startswith("- ")] == \
        [f"- user{i} " for i in range(3, 10)]  # one line each, the ones over the cap
    clock.advance(minutes=10)
    import_mentions(app, tmp_path, ["late1", "late2"], name="more")
    assert run_dispatch(app).sent == 0  # the cap and this hour's roll-up are spent
    clock.advance(minutes=51)
    assert run_dispatch(app).messages == 2  # a new hour


def test_a_first_runs_history_is_one_backlog_list_after_the_fresh_alerts_and_spends_no_cap(
        make_app, smtp_server, tmp_path, clock, ascolto):
    controller, inbox = smtp_server()
    app = with_alert_settings(make_app, smtp(controller), "hourly_cap = 3")
    import_mentions(app, tmp_path, [f"old{i}" for i in range(30)], name="history", written="2026-11-09T08:00:00Z")
    import_mentions(app, tmp_path, ["fresh1", "fresh2"], name="today")
    first = run_dispatch(app)
    assert (first.sent, first.messages) == (32, 2 + 1)  # two alerts, then the history in one list
    subjects = [m["Subject"] for m in inbox.messages()]
    assert subjects[-1] == "[Ascolto] 30 avvisi meno recenti per Caffè Aurora, in un solo elenco"
    assert all("fresh" in subject for subject in subjects[:2])
    backlog = inbox.messages()[-1]
    assert len(backlog.as_bytes()) < 100_000
    clock.advance(minutes=5)
    import_mentions(app, tmp_path, ["new1"], name="new")
    assert run_dispatch(app).messages == 1  # the backlog spent none of the hour's three messages
    import_mentions(app, tmp_path, ["new2", "new3", "new4"], name="more")
    second = run_dispatch(app)
    assert (second.sent, second.messages) == (3, 1)  # fresh1, fresh2, new1 spent the cap: one roll-up
    clock.advance(minutes=5)
    import_mentions(app, tmp_path, ["late"], name="late")
    assert run_dispatch(app).sent == 0
    listed = ascolto(["alerts", "list", "--config", str(app.config.path)]).output
    assert "next try 23/11/2026 11:00: hourly cap reached and its roll-up sent" in listed, listed


def test_without_grouping_each_alert_is_a_message(make_app, smtp_server, tmp_path):
    controller, inbox = smtp_server()
    app = with_alert_settings(make_app, smtp(controller), "group_window_minutes = 0\nhourly_cap = 1000")
    import_mentions(app, tmp_path, ["giulia", "giulia", "marco"])
    assert run_dispatch(app).messages == 3


def test_an_hourly_digest_channel_and_quiet_hours(make_app, smtp_server, tmp_path, clock):
    controller, inbox = smtp_server()
    channels = ('[[alerts.channels]]\nname = "digest"\ntype = "email"\nrecipients = ["boss@example.com"]\n'
                'mode = "hourly"\n'
                '[[alerts.channels]]\nname = "night"\ntype = "email"\nrecipients = ["cm@example.com"]\n'
                'quiet_hours = [22, 8]\n')
    app = make_app(smtp=smtp(controller), extra=channels)
    clock.moment = clock.moment.replace(hour=22, minute=30)  # 23:30 in Rome
    import_mentions(app, tmp_path, ["a", "b"])
    night = run_dispatch(app)
    to = [m["To"] for m in inbox.messages()]
    assert to == ["boss@example.com"] and night.messages == 1  # the digest; cm@ sleeps
    assert inbox.messages()[0]["Subject"] == "[Ascolto] Riepilogo: 2 avvisi"
    import_mentions(app, tmp_path, ["c"], name="third")
    clock.advance(minutes=20)
    assert run_dispatch(app).sent == 0  # the next digest is an hour after the last
    clock.advance(minutes=45)
    assert run_dispatch(app).messages == 1
    assert [m["To"] for m in inbox.messages()][1:] == ["boss@example.com"]
    clock.moment = clock.moment.replace(hour=7, minute=5) + __import__("datetime").timedelta(days=1)  # 08:05 Rome
    morning = run_dispatch(app)
    assert morning.messages == 3 and {m["To"] for m in inbox.messages()[2:]} == {"cm@example.com"}  # a, b, c


def test_the_near_miss_list_comes_after_the_alerts(make_app, smtp_server, tmp_path):
    from listener.jobs.learning import run_near_misses

    controller, inbox = smtp_server()
    app = make_app(smtp=smtp(controller))
    app.db["mentions"].insert({"id": "x:near", "source": "x", "native_id": "near", "brand": "Caffè Aurora",
                               "author": "a", "text": "Caffè Aurora, ordine in ritardo?", "created_at": "2026-11-23T08:00:00Z",
                               "collected_at": "2026-11-23T08:30:00Z", "p_unhappy": 0.35, "alert_threshold": 0.4,
                               "nps_class": "passive"})
    assert run_near_misses(app) == 1  # queued first, as the nightly job does on a first run
    import_mentions(app, tmp_path, ["giulia", "marco"])
    run_dispatch(app)
    subjects = [m["Subject"] for m in inbox.messages()]
    assert len(subjects) == 3 and subjects[-1] == "[Ascolto] 1 menzioni di Caffè Aurora sono state vicine a un avviso"
