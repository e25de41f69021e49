"""Answering the customer from the alert: the reply page behind the alert's signed link (a GET only
shows, the POST sends once), suggested replies, a survey detractor answered by email in the
invitation's thread, a platform that takes no replies recorded by hand; the case moves to contacted."""

import re
from datetime import timedelta

import pytest

from helpers.browser import needs_chromium
from listener.jobs.collect import run_import
from listener.jobs.dispatch import run_dispatch
from listener.reports.figures import Period, brand_report
from listener.reports.page import html_report, text_report
from listener.sources.files import Settings as ImportSource
from listener.web import wsgi_app

SECRET = "a-link-secret-for-tests-0123456789"
WEB = '[web]\nbase_url = "https://ascolto.example.com"\n'


@pytest.fixture
def alerted(make_app, smtp_server, monkeypatch, tmp_path):
    monkeypatch.setenv("ASCOLTO_SECRET", SECRET)
    controller, inbox = smtp_server()
    app = make_app(smtp=f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"', extra=WEB)
    (tmp_path / "m.jsonl").write_text(
        '{"id": "1", "source": "feed", "author": "giulia", "text": "Caffè Aurora: pacco mai arrivato, consegna '
        'pessimo", "created_at": "2026-11-23T08:00:00Z", "lang": "it", "url": "https://blog.example.com/p/1"}\n'
        '{"id": "0", "source": "feed", "author": "giulia", "text": "Caffè Aurora, ordine fatto", '
        '"created_at": "2026-11-20T08:00:00Z", "lang": "it"}\n', encoding="utf-8")
    run_import(app, ImportSource(name="m", path=tmp_path / "m.jsonl"))
    run_dispatch(app)
    app.inbox = inbox
    return app


def reply_link(message) -> str:
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    return re.search(r"^Rispondi: https://ascolto\.example\.com(/r/\S+)$", text, re.M).group(1)


def form_of(page) -> dict:
    html = page.get_data(as_text=True)
    return {"form_token": re.search(r'name="form_token" value="([^"]+)"', html).group(1),
            "mode": "manual" if 'name="mode" value="manual"' in html else ""}


def test_the_reply_page_shows_and_only_a_post_records_once(alerted):
    alert = next(m for m in alerted.inbox.messages() if "pacco" in m.get_body(("plain",)).get_content())
    link = reply_link(alert)
    web = wsgi_app(alerted).test_client()
    page = web.get(link)  # what a mail scanner does
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Rispondi a giulia" in html and "pacco mai arrivato" in html
    assert "Caffè Aurora, ordine fatto" in html  # the author's earlier message
    assert "ci scusiamo per il problema con la consegna" in html  # the delivery theme's suggestion
    assert alerted.db["replies"].count == 0
    suggested = web.get(link + "?draft=0")
    draft = re.search(r'<textarea[^>]*>([^<]*)</textarea>', suggested.get_data(as_text=True)).group(1)
    assert draft.startswith("Ciao giulia, ci scusiamo")
    form = form_of(suggested)
    assert form["mode"] == "manual"  # a feed takes no replies: copy, post, record
    sent = web.post(link, data={**form, "text": draft + " Grazie!", "name": "Anna"})
    assert sent.status_code == 200 and "La tua risposta è registrata con il caso" in sent.get_data(as_text=True)
    again = web.post(link, data={**form, "text": "altro", "name": "Anna"})  # the same form, pressed again
    assert "Questa risposta è già stata inviata" in again.get_data(as_text=True)
    rows = list(alerted.db.query("select channel, status, who, text from replies"))
    assert [(r["channel"], r["status"], r["who"]) for r in rows] == [("manual", "copied", "Anna")]
    assert rows[0]["text"].endswith("Grazie!")
    case = next(alerted.db.query("select status from cases"))
    assert case["status"] == "contacted"
    events = [r["event"] for r in alerted.db.query("select event from case_events order by id")]
    assert events[-2:] == ["replied", "contacted"]


def test_a_forged_or_crossed_form_sends_nothing(alerted):
    link = reply_link(alerted.inbox.messages()[0])
    web = wsgi_app(alerted).test_client()
    form = form_of(web.get(link))
    tampered = link[:-3] + ("AAA" if link[-3:] != "AAA" else "BBB")
    assert web.get(tampered).status_code == 400
    assert web.post(link, data={**form, "form_token": form["form_token"][:-2] + "xx", "text": "x", "name": "a"}
                    ).status_code == 400
    assert alerted.db["replies"].count == 0


def test_a_survey_detractor_is_answered_by_email_in_the_invitations_thread(make_app, smtp_server, monkeypatch, clock):
    from listener.jobs.surveys import run_response_scoring

    monkeypatch.setenv("ASCOLTO_SECRET", SECRET)
    controller, inbox = smtp_server()
    app = make_app(smtp=f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"',
                   extra=WEB + '[surveys]\nsender = "sondaggi@caffeaurora.example.com"\n')
    db = app.db
    with db.atomic():
        db["customers"].insert({"id": 1, "email": "giulia@example.com", "name": "Giulia", "lang": "it",
                                "legal_basis": "consent", "created_at": "2026-11-01T00:00:00Z"})
        db["orders"].insert({"order_ref": "A-1001", "brand": "Caffè Aurora", "customer_id": 1,
                             "purchased_at": "2026-11-10T00:00:00Z", "received_at": "2026-11-10T00:00:00Z"})
        db["survey_invitations"].insert({"id": 1, "public_id": "inv123", "customer_id": 1, "order_ref": "A-1001",
                                         "brand": "Caffè Aurora", "lang": "it", "status": "sent",
                                         "created_at": "2026-11-20T00:00:00Z", "expires_at": "2026-12-20T00:00:00Z"})
        db["survey_responses"].insert({"id": 7, "invitation_id": 1, "customer_id": 1, "brand": "Caffè Aurora",
                                       "score": 2, "nps_class": "detractor", "comment": "Caffè arrivato rotto",
                                       "channel": "web", "answered_at": "2026-11-23T08:30:00Z"})
    run_response_scoring(app)
    run_dispatch(app)
    alert = inbox.messages()[-1]
    link = reply_link(alert)
    web = wsgi_app(app).test_client()
    page = web.get(link)
    assert "Sarà inviata per email a giulia@example.com da Caffè Aurora" in page.get_data(as_text=True)
    form = form_of(page)
    assert form["mode"] == ""
    before = len(inbox.envelopes)
    clock.advance(hours=2, minutes=30)  # the customer waited two hours and a half
    sent = web.post(link, data={**form, "text": "Ciao Giulia, ti mandiamo subito un pacco nuovo.", "name": "Anna"})
    assert sent.status_code == 200 and "La tua risposta è stata pubblicata" in sent.get_data(as_text=True)
    web.post(link, data={**form, "text": "di nuovo", "name": "Anna"})  # pressed twice: one email
    assert len(inbox.envelopes) == before + 1
    reply = inbox.messages()[-1]
    assert reply["To"] == "Giulia <giulia@example.com>" and reply["From"] == "Caffè Aurora <sondaggi@caffeaurora.example.com>"
    assert reply["In-Reply-To"] == reply["References"] == "<survey.inv123@caffeaurora.example.com>"
    assert reply["X-Ascolto-Case"] == "1" and reply.get_content().startswith("Ciao Giulia, ti mandiamo")
    row = next(db.query("select channel, status, platform_id from replies"))
    assert (row["channel"], row["status"], row["platform_id"]) == ("email", "sent", reply["Message-ID"])
    assert next(db.query("select status from cases"))["status"] == "contacted"
    figures = brand_report(db, "Caffè Aurora", Period(clock() - timedelta(days=28), clock()))
    assert figures.first_reply == {"all": (pytest.approx(2.5), 1), "email": (pytest.approx(2.5), 1)}
    assert "time to first reply (all): median 2.5 h over 1 alerts answered" in text_report(figures)
    assert "Tempo alla prima risposta: 2,5 ore (mediana di 1 avvisi con risposta)" in html_report([figures], lang="it")
    waited = datasette_query(app, "time_to_first_reply", days=100000)  # SQLite's 'now': any day this runs
    assert waited == [{"brand": "Caffè Aurora", "channel": "email", "answered": 1, "median_hours": 2.5,
                       "slowest_hours": 2.5}]



@needs_chromium
def test_in_a_real_browser_pick_a_suggestion_edit_it_and_send_it_to_mastodon_once(make_app, smtp_server, api_server,
                                                                                   monkeypatch, tmp_path):
    """From the received alert email to the platform: the reply link, a suggested reply picked and
    edited, Send; the loopback Mastodon API receives one post and the case is contacted. Screenshots
    of the page at 1280 and 390 px go to ASCOLTO_SCREENSHOTS when set."""
    import os
    import threading
    from pathlib import Path
    from urllib.parse import parse_qs

    from playwright.sync_api import sync_playwright
    from waitress import create_server

    from helpers.browser import launch
    from helpers.net import free_port

    monkeypatch.setenv("ASCOLTO_SECRET", SECRET)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "fixture-mastodon-token")
    controller, inbox = smtp_server()
    port = free_port()
    app = make_app(smtp=f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"',
                   extra=f'[web]\nbase_url = "http://127.0.0.1:{port}"\n',
                   sources=f'[[sources]]\ntype = "mastodon"\nname = "mastodon"\ninstance = "{api_server.url}"\n')
    (tmp_path / "m.jsonl").write_text(
        '{"id": "113000000000000005", "source": "mastodon", "author": "giulia", "lang": "it", '
        '"account": {"acct": "giulia"}, "visibility": "public", "url": "https://mastodon.example/@giulia/1", '
        '"text": "Caffè Aurora: il pacco non è mai arrivato, servizio pessimo", "created_at": "2026-11-23T08:00:00Z"}\n',
        encoding="utf-8")
    run_import(app, ImportSource(name="m", path=tmp_path / "m.jsonl"))
    run_dispatch(app)
    html = inbox.messages()[0].get_body(("html",)).get_content()
    link = re.search(r'<a href="(http://127\.0\.0\.1:\d+/r/[^"]+)"', html).group(1)
    api_server.answer("/api/v1/statuses", {"id": "113000000000000900", "uri": "https://mastodon.example/s/900",
                                           "in_reply_to_id": "113000000000000005", "content": "<p>ok</p>",
                                           "account": {"acct": "caffeaurora"}, "visibility": "public"})
    server = create_server(wsgi_app(app), host="127.0.0.1", port=port, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    shots = Path(os.environ.get("ASCOLTO_SCREENSHOTS") or tmp_path)
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            for width in (390, 1280):
                page = browser.new_page(locale="it-IT", viewport={"width": width, "height": 900})
                page.goto(link)
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(path=str(shots / f"reply-{width}.png"), full_page=True)
                page.close()
            page = browser.new_page(locale="it-IT", viewport={"width": 390, "height": 900})
            page.goto(link)
            page.get_by_role("link", name=re.compile("Usa questa.*consegna")).first.click()
            box = page.get_by_label("La tua risposta")
            assert box.input_value().startswith("Ciao giulia, ci scusiamo per il problema con la consegna")
            box.fill(box.input_value() + " Un abbraccio.")
            page.get_by_label("Il tuo nome").fill("Anna")
            page.get_by_role("button", name="Invia la risposta").click()
            page.wait_for_selector("text=La tua risposta è stata pubblicata")
            page.screenshot(path=str(shots / "reply-sent-390.png"), full_page=True)
            page.go_back()  # the browser's own resend of the form: nothing more is posted
            browser.close()
    finally:
        server.close()
        thread.join(timeout=5)
    posts = api_server.played("/api/v1/statuses")
    assert len(posts) == 1
    body = parse_qs(posts[0]["body"].decode())
    assert body["status"][0].startswith("@giulia Ciao giulia, ci scusiamo") and body["status"][0].endswith("Un abbraccio.")
    assert body["in_reply_to_id"] == ["113000000000000005"]
    assert next(app.db.query("select status from cases"))["status"] == "contacted"
    assert [(r["channel"], r["status"], r["platform_id"]) for r in app.db.query("select * from replies")] == [
        ("mastodon", "sent", "113000000000000900")]

def datasette_query(app, name, **params):
    import asyncio

    from datasette.app import Datasette

    from helpers.paths import REPO
    from listener.reports.datasette import metadata_for

    metadata = metadata_for(app.config.database, REPO / "config" / "datasette.yaml")
    datasette = Datasette([str(app.config.database)], metadata=metadata)
    args = "&".join(f"{k}={v}" for k, v in params.items())
    response = asyncio.run(datasette.client.get(f"/{app.config.database.stem}/{name}.json?_shape=array&{args}"))
    assert response.status_code == 200, response.text
    return response.json()


def test_a_refused_reply_keeps_the_draft_and_says_why_then_a_second_try_posts(make_app, smtp_server, monkeypatch,
                                                                                tmp_path, recorded_http):
    monkeypatch.setenv("ASCOLTO_SECRET", SECRET)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "fixture-mastodon-token")
    controller, inbox = smtp_server()
    app = make_app(smtp=f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"', extra=WEB,
                   sources='[[sources]]\ntype = "mastodon"\nname = "mastodon"\ninstance = "https://mastodon.example"\n')
    (tmp_path / "m.jsonl").write_text(
        '{"id": "113000000000000005", "source": "mastodon", "author": "giulia", "lang": "it", '
        '"account": {"acct": "giulia"}, "text": "Caffè Aurora pessimo, pacco perso", '
        '"created_at": "2026-11-23T08:00:00Z"}\n', encoding="utf-8")
    run_import(app, ImportSource(name="m", path=tmp_path / "m.jsonl"))
    run_dispatch(app)
    link = reply_link(inbox.messages()[0])
    recorded_http.post("https://mastodon.example/api/v1/statuses", status=403,
                       json={"error": "This action is outside the authorized scopes"})
    recorded_http.post("https://mastodon.example/api/v1/statuses", json={"id": "113000000000000901"})
    web = wsgi_app(app).test_client()
    form = form_of(web.get(link))
    refused = web.post(link, data={**form, "text": "Ci dispiace, ti scriviamo in privato.", "name": "Anna"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 502 and "write:statuses" in html  # why, in the platform's words and ours
    assert "Ci dispiace, ti scriviamo in privato.</textarea>" in html  # the draft, kept
    assert next(app.db.query("select status from cases"))["status"] == "open"
    again = web.post(link, data={**form_of(refused), "text": "Ci dispiace, ti scriviamo in privato.", "name": "Anna"})
    assert again.status_code == 200 and "La tua risposta è stata pubblicata" in again.get_data(as_text=True)
    assert [r["status"] for r in app.db.query("select status from replies order by id")] == ["failed", "sent"]
    assert next(app.db.query("select status from cases"))["status"] == "contacted"
