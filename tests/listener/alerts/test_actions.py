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
    return dict(re.findall(r"^(Lo prendo io|Non è un reclamo|Avviso giusto): (\S+)$", text, re.M))


def path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def confirm(web, url: str):
    page = web.get(path(url))
    token = re.search(r'name="form_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return page, token


def act(web, url: str, **form):
    """Open the link, then press its button as a browser would: with the name the page suggests."""
    page, token = confirm(web, url)
    suggested = re.search(r'name="name" value="([^"]*)"', page.get_data(as_text=True)).group(1)
    return web.post(path(url), data={"form_token": token, "name": suggested, **form})


def steps(page) -> dict[str, str]:
    """The next steps a done page offers: label -> link."""
    return {label: url for url, label in re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', page.get_data(as_text=True))}


def case(app) -> dict:
    return next(app.db.query("select * from cases"))


def test_the_email_offers_take_and_feedback_and_opening_a_link_changes_nothing(alerted):
    found = links(alerted.inbox.messages()[0])
    assert set(found) == {"Lo prendo io", "Non è un reclamo", "Avviso giusto"}
    web = wsgi_app(alerted).test_client()
    page = web.get(path(found["Lo prendo io"]))  # what a mail scanner does
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Il caso #1 sarà assegnato a te" in html
    assert 'name="name" value="cm@example.com"' in html  # an email link: its recipient, to confirm or change
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert case(alerted)["owner"] is None and case(alerted)["status"] == "open"


def test_take_then_the_next_steps_each_link_once(alerted):
    found = links(alerted.inbox.messages()[0])
    web = wsgi_app(alerted).test_client()
    taken = act(web, found["Lo prendo io"], name="Giulia R.")
    assert taken.status_code == 200 and case(alerted)["owner"] == "Giulia R."
    assert "Il caso #1 è tuo, Giulia R." in taken.get_data(as_text=True)
    offered = steps(taken)
    assert list(offered) == ["Cliente contattato", "Caso risolto", "Caso perso"]
    again = web.get(path(found["Lo prendo io"]))  # the same link, a second time
    assert again.status_code == 409 and "usato da Giulia R. il" in again.get_data(as_text=True)
    assert 'name="form_token"' not in again.get_data(as_text=True)
    contacted = act(web, offered["Cliente contattato"])
    assert contacted.status_code == 200 and case(alerted)["status"] == "contacted"
    assert case(alerted)["owner"] == "Giulia R."  # the name this browser gave (its cookie)
    assert act(web, steps(contacted)["Caso risolto"]).status_code == 200 and case(alerted)["status"] == "resolved"
    closed = web.get(path(offered["Caso perso"]))  # an older link, to a case now closed
    assert closed.status_code == 409 and "è già chiuso (risolto)" in closed.get_data(as_text=True)
    assert 'name="form_token"' not in closed.get_data(as_text=True)
    events = [row[0] for row in alerted.db.execute("select event from case_events order by id")]
    assert events == ["opened", "taken", "contacted", "resolved"]
    who = {row[0] for row in alerted.db.execute("select who from case_events where event != 'opened'")}
    assert who == {"Giulia R."}


def test_a_form_is_used_once_even_when_posted_twice_at_once(alerted):
    found = links(alerted.inbox.messages()[0])
    web = wsgi_app(alerted).test_client()
    _, token = confirm(web, found["Lo prendo io"])
    first = web.post(path(found["Lo prendo io"]), data={"form_token": token, "name": "Anna"})
    second = web.post(path(found["Lo prendo io"]), data={"form_token": token, "name": "Marco"})
    assert (first.status_code, second.status_code) == (200, 409) and case(alerted)["owner"] == "Anna"


def test_feedback_links_record_corrections_for_the_detector(alerted):
    found = links(alerted.inbox.messages()[0])
    web = wsgi_app(alerted).test_client()
    act(web, found["Avviso giusto"])
    act(web, found["Non è un reclamo"])
    rows = alerted.db.execute("select subject_id, task, model_label, label, author, via from corrections order by id"
                              ).fetchall()
    assert rows == [("x:1", "detector", "unhappy", "unhappy", "cm@example.com", "link"),
                    ("x:1", "detector", "unhappy", "other", "cm@example.com", "link")]
    assert case(alerted)["status"] == "dismissed"
    assert web.get(path(found["Avviso giusto"])).status_code == 409  # one click per link, not a vote per click


def test_forged_expired_and_crossed_links_are_refused(alerted, clock, tmp_path):
    found = links(alerted.inbox.messages()[0])
    web = wsgi_app(alerted).test_client()
    url = path(found["Lo prendo io"])
    assert web.get(url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")).status_code == 400
    assert web.get("/a/nonsense").status_code == 400
    (tmp_path / "n.jsonl").write_text('{"id": "2", "source": "x", "author": "marco", "text": "Caffè Aurora pessimo", '
                                      '"created_at": "2026-11-23T08:00:00Z"}\n', encoding="utf-8")
    run_import(alerted, ImportSource(name="n", path=tmp_path / "n.jsonl"))
    run_dispatch(alerted)
    other = links(alerted.inbox.messages()[1])
    _, token = confirm(web, found["Lo prendo io"])
    crossed = web.post(path(other["Lo prendo io"]), data={"form_token": token})  # a form of another alert's link
    assert crossed.status_code == 400
    _, token = confirm(web, found["Avviso giusto"])
    crossed = web.post(url, data={"form_token": token})  # a form of another action of the same alert
    assert crossed.status_code == 400 and [c["owner"] for c in alerted.db["cases"].rows] == [None, None]
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
