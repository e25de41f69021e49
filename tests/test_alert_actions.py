"""One-click actions in alerts: signed for the recipient, scanner-safe (a GET only shows a button), single
use, refused when forged, expired or replayed; and in a real browser, from a received alert email."""

import re
import threading

import pytest

from helpers.browser import launch, needs_chromium
from helpers.net import free_port
from listener.jobs.collect import run_import
from listener.jobs.dispatch import run_dispatch
from listener.sources.files import Settings as ImportSource
from listener.web import wsgi_app

SECRET = "a-link-secret-for-tests-0123456789"


@pytest.fixture
def alerted(make_app, smtp_server, monkeypatch, tmp_path):
    """An alert about a detractor mention, received by email; its links point at ``base``."""
    monkeypatch.setenv("ASCOLTO_SECRET", SECRET)
    controller, inbox = smtp_server()
    port = free_port()
    app = make_app(smtp=f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"',
                   extra=f'[web]\nbase_url = "http://127.0.0.1:{port}"\n')
    (tmp_path / "m.jsonl").write_text('{"id": "1", "source": "x", "author": "giulia", "text": "Caffè Aurora pessimo, '
                                      'pacco rotto", "created_at": "2026-11-23T08:00:00Z", "lang": "it"}\n',
                                      encoding="utf-8")
    run_import(app, ImportSource(name="m", path=tmp_path / "m.jsonl"))
    assert run_dispatch(app).sent == 1
    app.inbox, app.port = inbox, port
    return app


def links(message) -> dict[str, str]:
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    return dict(re.findall(r"^(Lo prendo io|Contattato|Risolto|Perso|Non è un reclamo|Avviso giusto): (\S+)$",
                           text, re.M))


def path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def confirm(web, url: str):
    page = web.get(path(url))
    token = re.search(r'name="form_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return page, token


def case(app) -> dict:
    return next(app.db.query("select * from cases"))


def test_the_email_carries_signed_links_and_opening_one_changes_nothing(alerted):
    found = links(alerted.inbox.messages()[0])
    assert set(found) == {"Lo prendo io", "Contattato", "Risolto", "Perso", "Non è un reclamo", "Avviso giusto"}
    web = wsgi_app(alerted).test_client()
    page = web.get(path(found["Risolto"]))  # what a mail scanner does
    assert page.status_code == 200 and "Il caso #1 sarà chiuso come risolto" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert case(alerted)["status"] == "open"


def test_take_contacted_resolved_and_a_replay_refused(alerted):
    found = links(alerted.inbox.messages()[0])
    web = wsgi_app(alerted).test_client()
    _, token = confirm(web, found["Lo prendo io"])
    taken = web.post(path(found["Lo prendo io"]), data={"form_token": token})
    assert taken.status_code == 200 and case(alerted)["owner"] == "cm@example.com"  # the link's own recipient
    assert web.post(path(found["Lo prendo io"]), data={"form_token": token}).status_code == 409  # replayed
    for label, status in (("Contattato", "contacted"), ("Risolto", "resolved")):
        _, token = confirm(web, found[label])
        assert web.post(path(found[label]), data={"form_token": token}).status_code == 200
        assert case(alerted)["status"] == status
    _, token = confirm(web, found["Perso"])
    refused = web.post(path(found["Perso"]), data={"form_token": token})
    assert refused.status_code == 409 and "case #1 is resolved" in refused.get_data(as_text=True)


def test_feedback_links_record_corrections_for_the_detector(alerted):
    found = links(alerted.inbox.messages()[0])
    web = wsgi_app(alerted).test_client()
    _, token = confirm(web, found["Avviso giusto"])
    web.post(path(found["Avviso giusto"]), data={"form_token": token})
    _, token = confirm(web, found["Non è un reclamo"])
    web.post(path(found["Non è un reclamo"]), data={"form_token": token})
    rows = alerted.db.execute("select subject_id, task, model_label, label, author, via from corrections order by id"
                              ).fetchall()
    assert rows == [("x:1", "detector", "unhappy", "unhappy", "cm@example.com", "link"),
                    ("x:1", "detector", "unhappy", "other", "cm@example.com", "link")]
    assert case(alerted)["status"] == "dismissed"


def test_forged_expired_and_crossed_links_are_refused(alerted, clock, tmp_path):
    found = links(alerted.inbox.messages()[0])
    web = wsgi_app(alerted).test_client()
    url = path(found["Risolto"])
    assert web.get(url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")).status_code == 400
    assert web.get("/a/nonsense").status_code == 400
    (tmp_path / "n.jsonl").write_text('{"id": "2", "source": "x", "author": "marco", "text": "Caffè Aurora pessimo", '
                                      '"created_at": "2026-11-23T08:00:00Z"}\n', encoding="utf-8")
    run_import(alerted, ImportSource(name="n", path=tmp_path / "n.jsonl"))
    run_dispatch(alerted)
    other = links(alerted.inbox.messages()[1])["Risolto"]
    _, token = confirm(web, found["Risolto"])
    crossed = web.post(path(other), data={"form_token": token})  # a form minted for another alert's link
    assert crossed.status_code == 400 and [c["status"] for c in alerted.db["cases"].rows] == ["open", "open"]
    clock.advance(days=15)
    assert web.get(url).status_code == 410


@needs_chromium
def test_in_a_real_browser_take_the_case_and_say_not_a_complaint(alerted):
    from playwright.sync_api import sync_playwright
    from waitress import create_server

    server = create_server(wsgi_app(alerted), host="127.0.0.1", port=alerted.port, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    html = alerted.inbox.messages()[0].get_body(("html",)).get_content()
    hrefs = dict((label, url) for url, label in re.findall(r'<a href="(http://127\.0\.0\.1:\d+/a/[^"]+)"[^>]*>([^<]+)</a>',
                                                           html))
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(locale="it-IT")
            page.goto(hrefs["Lo prendo io"])
            assert case(alerted)["owner"] is None  # opening is not acting
            page.get_by_role("button", name="Lo prendo io").click()
            page.wait_for_selector("text=Fatto")
            page.goto(hrefs["Non è un reclamo"].replace("&amp;", "&"))
            page.get_by_role("button", name="Non è un reclamo").click()
            page.wait_for_selector("text=Fatto")
            browser.close()
    finally:
        server.close()
        thread.join(timeout=5)
    assert case(alerted)["owner"] == "cm@example.com" and case(alerted)["status"] == "dismissed"
    correction = alerted.db.execute("select subject_id, task, label, via from corrections").fetchone()
    assert correction == ("x:1", "detector", "other", "link")
