"""The survey as a customer lives it, in real headless Chromium (Debian's), driven by Playwright.

A purchase is imported, the invitation arrives at an SMTP server on loopback, a score link from that
email opens in the browser, a comment is typed and sent, and the database holds the response with
its class and sentiment.
"""

import os
import re
import threading
from pathlib import Path

import pytest

from helpers.browser import launch, needs_chromium
from helpers.net import free_port
from listener.jobs.surveys import run_invitations, run_response_scoring
from listener.web import wsgi_app

pytestmark = needs_chromium


@pytest.fixture
def served(make_app, smtp_server, monkeypatch):
    from waitress import create_server

    monkeypatch.setenv("ASCOLTO_SECRET", "browser-test-secret-0123456789")
    controller, inbox = smtp_server()
    port = free_port()
    surveys = f'[web]\nbase_url = "http://127.0.0.1:{port}"\n[surveys]\nsender = "sondaggi@example.com"\n'
    app = make_app(smtp=f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"', extra=surveys)
    app.db  # migrate before the server's first request
    server = create_server(wsgi_app(app), host="127.0.0.1", port=port, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield app, inbox, app.config.path
    server.close()
    thread.join(timeout=5)


def test_customer_answers_in_a_real_browser(served, tmp_path, ascolto):
    from playwright.sync_api import sync_playwright

    app, inbox, config = served
    orders = tmp_path / "orders.csv"
    orders.write_text("order_ref,email,name,language,purchased_at,legal_basis\n"
                      "B-77,marta@example.com,Marta,it,2026-11-19T09:30:00+01:00,consent\n", encoding="utf-8")
    assert ascolto(["surveys", "import-orders", str(orders), "--config", str(config)]).exit_code == 0
    assert run_invitations(app).sent == 1
    email = inbox.messages()[0]
    assert email["To"] == "Marta <marta@example.com>"
    html = email.get_body(("html",)).get_content()
    link = re.findall(r'href="(http://127\.0\.0\.1:\d+/s/[^"]+)"', html)[3]  # the "3" button

    shots = Path(os.environ.get("ASCOLTO_SCREENSHOTS") or tmp_path)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        mail = browser.new_page(viewport={"width": 390, "height": 844})  # the email as a phone shows it
        mail.set_content(html)
        buttons = mail.locator("a[aria-label]")
        assert buttons.count() == 11
        for i in range(11):  # 0 to 10 all on the screen: none falls off the right edge
            box = buttons.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] >= 24
        assert mail.evaluate("document.documentElement.scrollWidth") <= 390
        mail.screenshot(path=str(shots / "invitation-390.png"), full_page=True)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="it-IT")  # a phone
        page.goto(link)
        assert page.title() == "Il tuo parere"
        assert page.locator("#score-3").is_checked()
        assert page.get_by_label("Qual è il motivo principale del tuo voto?").is_visible()
        page.get_by_label("Qual è il motivo principale del tuo voto?").fill(
            "Consegna in ritardo e pacco rotto, pessimo <b>servizio</b>")
        page.screenshot(path=str(tmp_path / "survey.png"), full_page=True)
        page.get_by_role("button", name="Invia").click()
        page.wait_for_selector("text=Abbiamo ricevuto il tuo voto (3) e ci dispiace")
        assert page.get_by_text("Qualcuno di Caffè Aurora ti ricontatterà presto").is_visible()  # a case is open
        browser.close()

    scored = run_response_scoring(app)
    assert (scored.scored, scored.detractors) == (1, 1)
    response = app.db.execute("select score, nps_class, comment, sentiment, channel from survey_responses").fetchone()
    assert response == (3, "detractor", "Consegna in ritardo e pacco rotto, pessimo <b>servizio</b>", "negative", "web")
    assert app.db.execute("select status from survey_invitations").fetchone()[0] == "answered"
    assert app.db.execute("select kind, status from cases").fetchone() == ("response", "open")
