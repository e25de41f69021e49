"""Surveys end to end without a browser: orders in, invitation by real SMTP, the page, answers, follow-up."""

import re

import pytest

from listener.jobs.dispatch import run_dispatch
from listener.jobs.surveys import run_invitations, run_response_scoring
from listener.web import wsgi_app

SECRET = "survey-secret-for-tests-0123456789"
ORDERS_SECRET = "orders-secret-for-tests-0123456789"
SURVEYS = '''
[web]
base_url = "https://feedback.example.com"

[surveys]
sender = "sondaggi@example.com"
delay_days = 3
reminder_after_days = 4
daily_cap = 5
'''
ORDERS = (
    "order_ref,email,name,language,purchased_at,legal_basis\n"
    "A-1001,giulia@example.com,Giulia,it,2026-11-18T10:00:00+01:00,consent\n"
    "A-1002,tom@example.com,Tom,en,2026-11-19T15:00:00Z,legitimate_interest\n"
    "A-1003,nobasis@example.com,Nina,it,2026-11-18T10:00:00Z,\n"
    "A-1004,late@example.com,Leo,it,2026-11-22T10:00:00Z,consent\n"
    "A-1005,not-an-email,Bad,it,2026-11-18T10:00:00Z,consent\n"
    "A-1006,x@example.com,Bad,de,2026-11-18T10:00:00Z,consent\n"
)


@pytest.fixture
def survey_app(tmp_path, make_app, smtp_server, monkeypatch, ascolto):
    monkeypatch.setenv("ASCOLTO_SECRET", SECRET)
    monkeypatch.setenv("ASCOLTO_ORDERS_SECRET", ORDERS_SECRET)
    controller, inbox = smtp_server()
    smtp = f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"'
    app = make_app(smtp=smtp, extra=SURVEYS)
    config = app.config.path
    app.inbox, app.config_file = inbox, config
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    result = ascolto(["surveys", "import-orders", str(tmp_path / "orders.csv"), "--config", str(config)])
    assert result.exit_code == 0, result.output
    app.import_output = result.output
    return app


def links_of(message):
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    return dict((int(n), url) for n, url in re.findall(r"^(\d+): (https://\S+)$", text, re.M))


def path(url):
    return url.removeprefix("https://feedback.example.com")


def invite_giulia(app):
    counts = run_invitations(app)
    messages = {m["To"]: m for m in app.inbox.messages()}
    return counts, messages


def test_bad_order_rows_are_reported_by_line_and_the_rest_imported(survey_app):
    out = survey_app.import_output
    assert "orders.csv:6: skipped: email 'not-an-email' is not an address" in out
    assert "orders.csv:7: skipped: language 'de': expected it or en" in out
    assert "4 new orders, 0 already known, 2 skipped" in out
    assert survey_app.db["orders"].count == 4


def test_invitations_follow_the_policy_and_carry_eleven_signed_links(survey_app):
    counts, messages = invite_giulia(survey_app)
    assert (counts.sent, counts.skipped, counts.waiting) == (2, 1, 1)  # Nina: no basis; Leo: too early
    assert set(messages) == {"Giulia <giulia@example.com>", "Tom <tom@example.com>"}
    it = messages["Giulia <giulia@example.com>"]
    assert it["Subject"] == "Caffè Aurora: com'è andato il tuo ordine A-1001?"
    text = it.get_body(("plain",)).get_content()
    assert "Quanto è probabile che tu consigli Caffè Aurora a un amico o collega?" in text
    assert sorted(links_of(it)) == list(range(11))
    assert it["List-Unsubscribe"].startswith("<https://feedback.example.com/u/")
    assert it["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = it.get_body(("html",)).get_content()
    assert html.count('href="https://feedback.example.com/s/') == 11 and 'lang="it"' in html
    en = messages["Tom <tom@example.com>"]
    assert en["Subject"] == "Caffè Aurora: how did your order A-1002 go?"
    skipped = survey_app.db.execute("select last_error from survey_invitations where status = 'skipped'").fetchone()
    assert skipped[0] == "no recorded legal basis"
    assert run_invitations(survey_app).sent == 0  # never twice


def test_opening_a_link_is_not_an_answer_submitting_is(survey_app):
    _, messages = invite_giulia(survey_app)
    link = links_of(messages["Giulia <giulia@example.com>"])[0]
    web = wsgi_app(survey_app).test_client()
    page = web.get(path(link))  # what a mail scanner does
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'id="score-0" value="0" checked' in body and "Qual è il motivo principale del tuo voto?" in body
    assert page.headers["Referrer-Policy"] == "no-referrer" and "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert survey_survey_count(survey_app) == 0
    invitation = survey_app.db.execute("select status, opened_score from survey_invitations where order_ref = 'A-1001'").fetchone()
    assert invitation == ("opened", 0)

    form_token = re.search(r'name="form_token" value="([^"]+)"', body).group(1)
    answer = web.post(path(link), data={"score": "0", "comment": "Pacco arrivato rotto, pessimo", "form_token": form_token})
    assert answer.status_code == 200 and "Abbiamo ricevuto il tuo voto (0)" in answer.get_data(as_text=True)
    row = survey_app.db.execute("select score, nps_class, comment, channel from survey_responses").fetchone()
    assert row == (0, "detractor", "Pacco arrivato rotto, pessimo", "web")  # 0 is a score

    replay = web.post(path(link), data={"score": "10", "comment": "x", "form_token": form_token})
    assert replay.status_code == 409
    assert survey_app.db.execute("select score from survey_responses").fetchone()[0] == 0


def survey_survey_count(app):
    return app.db["survey_responses"].count


def test_answering_again_updates_the_one_response(survey_app):
    _, messages = invite_giulia(survey_app)
    links = links_of(messages["Giulia <giulia@example.com>"])
    web = wsgi_app(survey_app).test_client()
    for score in (6, 9):
        body = web.get(path(links[score])).get_data(as_text=True)
        token = re.search(r'name="form_token" value="([^"]+)"', body).group(1)
        assert web.post(path(links[score]), data={"score": str(score), "comment": "", "form_token": token}).status_code == 200
    assert [tuple(r) for r in survey_app.db.execute("select score, nps_class from survey_responses")] == [(9, "promoter")]


def test_forged_tampered_and_expired_links_get_a_friendly_page(survey_app, clock):
    _, messages = invite_giulia(survey_app)
    link = path(links_of(messages["Giulia <giulia@example.com>"])[3])
    web = wsgi_app(survey_app).test_client()
    forged = web.get(link[:-3] + ("abc" if not link.endswith("abc") else "xyz"), headers={"Accept-Language": "en"})
    assert forged.status_code == 400 and "This link is not valid" in forged.get_data(as_text=True)
    assert web.get("/s/nonsense", headers={"Accept-Language": "it"}).status_code == 400
    clock.advance(days=31)
    expired = web.get(link, headers={"Accept-Language": "it"})
    assert expired.status_code == 410 and "Link scaduto" in expired.get_data(as_text=True)


def test_comments_are_escaped_and_oversized_input_refused(survey_app):
    _, messages = invite_giulia(survey_app)
    link = path(links_of(messages["Giulia <giulia@example.com>"])[2])
    web = wsgi_app(survey_app).test_client()
    body = web.get(link).get_data(as_text=True)
    token = re.search(r'name="form_token" value="([^"]+)"', body).group(1)
    evil = '</textarea><script>alert("x")</script>'
    web.post(link, data={"score": "2", "comment": evil, "form_token": token})
    again = web.get(link).get_data(as_text=True)
    assert "<script>" not in again and "&lt;script&gt;" in again
    token = re.search(r'name="form_token" value="([^"]+)"', again).group(1)
    too_long = web.post(link, data={"score": "2", "comment": "a" * 2001, "form_token": token})
    assert too_long.status_code == 413
    huge = web.post(link, data={"score": "2", "comment": "a" * 40000, "form_token": token})
    assert huge.status_code == 413
    bad_score = web.post(link, data={"score": "11", "comment": "", "form_token": token})
    assert bad_score.status_code == 422


def test_honeypot_submissions_are_thanked_and_dropped(survey_app):
    _, messages = invite_giulia(survey_app)
    link = path(links_of(messages["Giulia <giulia@example.com>"])[10])
    web = wsgi_app(survey_app).test_client()
    token = re.search(r'name="form_token" value="([^"]+)"', web.get(link).get_data(as_text=True)).group(1)
    bot = web.post(link, data={"score": "10", "comment": "buy now", "website": "http://spam", "form_token": token})
    assert bot.status_code == 200 and survey_app.db["survey_responses"].count == 0


def test_unsubscribe_needs_a_click_or_a_one_click_post_and_is_for_good(survey_app, clock):
    _, messages = invite_giulia(survey_app)
    unsubscribe = messages["Tom <tom@example.com>"]["List-Unsubscribe"].strip("<>")
    web = wsgi_app(survey_app).test_client()
    assert web.get(path(unsubscribe)).status_code == 200  # a scanner's GET changes nothing
    assert survey_app.db.execute("select unsubscribed_at from customers where email = 'tom@example.com'").fetchone()[0] is None
    done = web.post(path(unsubscribe), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "you will not receive surveys" in done.get_data(as_text=True)
    clock.advance(days=5)  # reminder time: Giulia gets one, Tom none
    counts = run_invitations(survey_app)
    assert counts.reminded == 1
    assert [m["To"] for m in survey_app.inbox.messages()][-1] == "Giulia <giulia@example.com>"
    clock.advance(days=5)
    run_invitations(survey_app)
    to_giulia = [m["Subject"] for m in survey_app.inbox.messages() if m["To"] == "Giulia <giulia@example.com>"]
    assert to_giulia == ["Caffè Aurora: com'è andato il tuo ordine A-1001?",
                         "Promemoria - Caffè Aurora: com'è andato il tuo ordine A-1001?"]  # one reminder at most
    assert not any(m["To"] == "Tom <tom@example.com>" and m["Subject"].startswith("Reminder")
                   for m in survey_app.inbox.messages())


def test_orders_endpoint_needs_the_shared_secret_and_is_idempotent(survey_app):
    web = wsgi_app(survey_app).test_client()
    order = {"order_ref": "W-1", "email": "web@example.com", "name": "Web", "language": "en",
             "purchased_at": "2026-11-20T10:00:00Z", "legal_basis": "consent"}
    assert web.post("/api/orders", json=order).status_code == 401
    assert web.post("/api/orders", json=order, headers={"Authorization": "Bearer wrong"}).status_code == 401
    auth = {"Authorization": f"Bearer {ORDERS_SECRET}"}
    assert web.post("/api/orders", json=order, headers=auth).status_code == 201
    assert web.post("/api/orders", json=order, headers=auth).status_code == 200
    bad = web.post("/api/orders", json={**order, "purchased_at": "yesterday"}, headers=auth)
    assert bad.status_code == 400 and "purchased_at" in bad.get_json()["error"]
    assert survey_app.db["orders"].count == 5


def test_detractor_answer_is_scored_alerted_and_opens_a_case(survey_app):
    _, messages = invite_giulia(survey_app)
    web = wsgi_app(survey_app).test_client()
    for who, score, comment in (("Giulia <giulia@example.com>", 3, "Servizio pessimo"),
                                ("Tom <tom@example.com>", 10, "Great coffee, love it")):
        link = path(links_of(messages[who])[score])
        token = re.search(r'name="form_token" value="([^"]+)"', web.get(link).get_data(as_text=True)).group(1)
        web.post(link, data={"score": str(score), "comment": comment, "form_token": token})
    counts = run_response_scoring(survey_app)
    assert (counts.scored, counts.detractors, counts.review_candidates) == (2, 1, 1)
    rows = {r["score"]: r for r in survey_app.db["survey_responses"].rows}
    assert (rows[3]["sentiment"], rows[3]["nps_class"], rows[3]["review_candidate"]) == ("negative", "detractor", 0)
    assert (rows[10]["sentiment"], rows[10]["review_candidate"]) == ("positive", 1)
    case = survey_app.db.execute("select kind, status, due_at from cases").fetchone()
    assert case == ("response", "open", "2026-11-25T09:00:00Z")
    before = len(survey_app.inbox.envelopes)
    assert run_dispatch(survey_app).sent == 1
    alert = survey_app.inbox.messages()[before]
    assert alert["Subject"] == "[Ascolto] Voto 3 nel sondaggio: Giulia (Caffè Aurora)"
    text = alert.get_body(("plain",)).get_content()
    assert "> Servizio pessimo" in text and "Cliente: Giulia, giulia@example.com" in text and "Ordine: A-1001" in text
    assert run_response_scoring(survey_app).scored == 0


def test_replies_from_another_tool_join_the_pipeline(survey_app, tmp_path, ascolto):
    replies = tmp_path / "replies.csv"
    replies.write_text("id,email,score,comment,answered_at\n"
                       "r1,giulia@example.com,0,Mai più,2026-11-20T10:00:00Z\n"
                       "r2,,10,Ottimo,2026-11-20T11:00:00Z\n"
                       "r3,,,empty score,2026-11-20T11:00:00Z\n"
                       "r4,,7.5,half,2026-11-20T11:00:00Z\n", encoding="utf-8")
    args = ["surveys", "import-replies", str(replies), "--config", str(survey_app.config_file), "--source", "typeform"]
    first = ascolto(args)
    assert "2 new replies, 0 already known, 2 skipped" in first.output
    assert "replies.csv:4: skipped: score '' is not a number" in first.output or "replies.csv:4: skipped: score" in first.output
    assert "2 already known" in ascolto(args).output
    zero = survey_app.db.execute("select score, nps_class, customer_id from survey_responses where external_id = 'typeform:r1'").fetchone()
    assert zero[0] == 0 and zero[1] == "detractor" and zero[2] is not None
    assert run_response_scoring(survey_app).detractors == 1


def test_a_detractor_from_another_tools_replies_has_a_customer_to_answer(survey_app, tmp_path, ascolto):
    """The replies file has the email and order of someone never imported as a customer: the alert
    names them, with a mailto carrying the order, not "Cliente: ?"."""
    replies = tmp_path / "replies.csv"
    replies.write_text("id,email,order_ref,score,comment,answered_at\n"
                       "r1,Nuovo.Cliente@Example.com,B-77,2,Arrivato rotto,2026-11-22T10:00:00Z\n", encoding="utf-8")
    ascolto(["surveys", "import-replies", str(replies), "--config", str(survey_app.config_file), "--source", "tf"])
    customer = survey_app.db.execute("select c.email, c.lang from survey_responses r join customers c "
                                     "on c.id = r.customer_id where r.external_id = 'tf:r1'").fetchone()
    assert customer == ("nuovo.cliente@example.com", "und")
    run_response_scoring(survey_app)
    run_dispatch(survey_app)
    alert = next(m for m in survey_app.inbox.messages() if "Voto 2" in m["Subject"])
    text = alert.get_body(("plain",)).get_content()
    assert "Cliente: nuovo.cliente@example.com" in text and "Ordine: B-77" in text and "?" not in text.split("Cliente:")[1][:3]
    html = alert.get_body(("html",)).get_content()
    assert "mailto:nuovo.cliente@example.com?subject=" in html and "B-77" in html.split("mailto:")[1][:200]


def test_the_thank_you_fits_the_score_and_a_promoter_is_offered_the_brands_review_page():
    from surveys.web import thanks

    review = "https://g.page/r/caffeaurora/review"
    promoter = thanks("Caffè Aurora", 10, "it", review).get_data(as_text=True)
    assert f'href="{review}"' in promoter and "Raccontalo anche agli altri: lascia una recensione" in promoter
    passive = thanks("Caffè Aurora", 8, "it", review).get_data(as_text=True)
    assert "aiuta Caffè Aurora a fare meglio" in passive and review not in passive  # only promoters are asked
    detractor = thanks("Caffè Aurora", 2, "en", review).get_data(as_text=True)
    assert "Someone from Caffè Aurora will get back to you soon" in detractor and review not in detractor
