"""Nothing lost, nobody blocked: malformed input, poison records and the sharp edges of issue 15.

Each test names the defect it pins; every one of them failed on the code before the fix.
"""

import json
import os
import re
import socket
import subprocess
import sys

import pytest

from helpers.apps import write_config
from listener.jobs.collect import run_import
from listener.jobs.dispatch import run_dispatch
from listener.jobs.surveys import run_invitations
from listener.sources.files import Settings as ImportSource
from listener.store.runs import start_run
from listener.web import wsgi_app

SECRET = "a-link-secret-for-tests-0123456789"
ORDERS_SECRET = "orders-secret-for-tests-0123456789"
WEB = '[web]\nbase_url = "https://feedback.example.com"\n[surveys]\nsender = "sondaggi@example.com"\n'
ROW = {"source": "x", "author": "ann", "created_at": "2026-11-23T08:00:00Z"}  # an hour before the test clock


def jsonl(**fields) -> bytes:
    return (json.dumps({**ROW, **fields}, ensure_ascii=False) + "\n").encode("utf-8")


@pytest.fixture
def smtp_app(make_app, smtp_server, monkeypatch):
    monkeypatch.setenv("ASCOLTO_SECRET", SECRET)
    monkeypatch.setenv("ASCOLTO_ORDERS_SECRET", ORDERS_SECRET)
    controller, inbox = smtp_server()
    app = make_app(smtp=f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"', extra=WEB)
    app.inbox = inbox
    return app


def import_bytes(app, tmp_path, name: str, data: bytes):
    (tmp_path / name).write_bytes(data)
    return run_import(app, ImportSource(name="t", path=tmp_path / name))


# ---- 3. encodings: report the line, save the rest ------------------------------------------------

def test_a_stray_cp1252_byte_costs_its_line_only(make_app, tmp_path, caplog):
    app = make_app(mailer=None)
    data = jsonl(id="1", text="Caffè Aurora ottimo") + b'{"id": "2", "text": "Caff\xe8 Aurora"}\n' + \
        jsonl(id="3", text="Caffè Aurora pessimo")
    counts = import_bytes(app, tmp_path, "mixed.jsonl", data)
    assert (counts.new, counts.errors) == (2, 1)
    assert "mixed.jsonl:2: skipped: not valid UTF-8 (byte 0xe8)" in caplog.text
    assert app.db["mentions"].get("x:3")["text"] == "Caffè Aurora pessimo"


def test_a_latin1_file_is_read_as_such(make_app, tmp_path, caplog):
    app = make_app(mailer=None)
    data = "id,source,author,text,created_at\n1,x,ann,Caffè Aurora: perché così caro?,2026-11-20T10:00:00Z\n"
    counts = import_bytes(app, tmp_path, "legacy.csv", data.encode("cp1252"))
    assert counts.new == 1 and app.db["mentions"].get("x:1")["text"] == "Caffè Aurora: perché così caro?"
    assert "is not UTF-8: read as Windows-1252" in caplog.text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-16-le", "utf-16-be"])
def test_utf16_with_or_without_a_bom_and_utf8_with_one(make_app, tmp_path, encoding):
    app = make_app(mailer=None)
    text = (jsonl(id="1", text="Caffè Aurora ☕ ottimo") + jsonl(id="2", text="Caffè Aurora")).decode()
    counts = import_bytes(app, tmp_path, "bom.jsonl", text.encode(encoding))
    assert counts.new == 2 and app.db["mentions"].get("x:1")["text"] == "Caffè Aurora ☕ ottimo"


def test_a_lone_surrogate_is_stored_visibly_and_the_chunk_survives(make_app, tmp_path):
    app = make_app(mailer=None)
    data = b'{"id": "1", "source": "x", "author": "a\\ud800", "text": "Caff\\u00e8 Aurora \\ud800 rotto", ' \
           b'"created_at": "2026-11-20T10:00:00Z"}\n' + jsonl(id="2", text="Caffè Aurora ok")
    counts = import_bytes(app, tmp_path, "surrogate.jsonl", data)
    assert counts.new == 2
    assert app.db["mentions"].get("x:1")["text"] == "Caffè Aurora \ufffd rotto"


def test_a_row_the_database_refuses_is_skipped_and_the_rest_of_its_chunk_saved(make_app, caplog):
    """Defence in depth below the importer's own cleaning: the pipeline isolates the bad row."""
    from listener.pipeline import save_chunk
    from listener.sources.base import MentionRow

    app = make_app(mailer=None)
    rows = [MentionRow(id=f"x:{i}", source="x", native_id=str(i), brand="Caffè Aurora", author="a", url=None,
                       text=text, lang="it", created_at="2026-11-20T10:00:00Z", collected_at="2026-11-20T10:00:00Z",
                       raw="{}") for i, text in enumerate(["ok", "bad \ud800", "pessimo"])]
    counts = save_chunk(app.db, rows, app.scorer, app.alert_rules, app.routes_for, "2026-11-23T09:00:00Z")
    assert (counts.new, counts.errors) == (2, 1) and app.db["mentions"].count == 2
    assert "x:1: not saved: UnicodeEncodeError" in caplog.text


def test_orders_csv_in_latin1_and_a_lone_surrogate_on_the_api(smtp_app, tmp_path, ascolto):
    orders = tmp_path / "orders.csv"
    orders.write_bytes("order_ref,email,name,language,purchased_at,legal_basis\n"
                       "A-1,nico@example.com,Niccolò,it,2026-11-18T10:00:00Z,consent\n".encode("cp1252"))
    result = ascolto(["surveys", "import-orders", str(orders), "--config", str(smtp_app.config.path)])
    assert result.exit_code == 0 and "1 new orders" in result.output
    assert smtp_app.db.execute("select name from customers").fetchone()[0] == "Niccolò"
    web = wsgi_app(smtp_app).test_client()
    body = '{"order_ref": "W-1", "email": "w@example.com", "name": "W\\ud800", "purchased_at": "2026-11-20T10:00:00Z"}'
    answer = web.post("/api/orders", data=body, content_type="application/json",
                      headers={"Authorization": f"Bearer {ORDERS_SECRET}"})
    assert answer.status_code == 201


# ---- 2. one bad record never stops a job ---------------------------------------------------------

def test_names_with_line_breaks_are_cleaned_on_the_way_in_and_every_invitation_goes(smtp_app, tmp_path, ascolto):
    orders = tmp_path / "orders.csv"
    orders.write_text('order_ref,email,name,language,purchased_at,legal_basis\n'
                      '"A-1",a@example.com,"Mallory\r\nBcc: victim@example.com",it,2026-11-18T10:00:00Z,consent\n'
                      '"A-2",b@example.com,Bob,en,2026-11-18T10:00:00Z,consent\n', encoding="utf-8")
    ascolto(["surveys", "import-orders", str(orders), "--config", str(smtp_app.config.path)])
    web = wsgi_app(smtp_app).test_client()
    web.post("/api/orders", json={"order_ref": "W-1", "email": "c@example.com", "name": "Eve\nX-Evil: 1",
                                  "purchased_at": "2026-11-18T10:00:00Z", "legal_basis": "consent"},
             headers={"Authorization": f"Bearer {ORDERS_SECRET}"})
    assert run_invitations(smtp_app).sent == 3
    names = sorted(r[0] for r in smtp_app.db.execute("select name from customers"))
    assert names == ["Bob", "Eve X-Evil: 1", "Mallory Bcc: victim@example.com"]
    assert all(len(e.rcpt_tos) == 1 for e in smtp_app.inbox.envelopes)  # no header injection


def test_an_invitation_that_cannot_be_built_fails_alone(smtp_app, tmp_path, ascolto):
    orders = tmp_path / "orders.csv"
    orders.write_text("order_ref,email,name,language,purchased_at,legal_basis\n"
                      "A-1,a@example.com,Ann,it,2026-11-18T10:00:00Z,consent\n"
                      "A-2,b@example.com,Bob,en,2026-11-18T10:00:00Z,consent\n", encoding="utf-8")
    ascolto(["surveys", "import-orders", str(orders), "--config", str(smtp_app.config.path)])
    run_invitations(smtp_app)  # plans and sends both; now make a third one that cannot be built
    smtp_app.db.execute("update survey_invitations set status = 'pending', expires_at = 'not a time' "
                        "where order_ref = 'A-1'")  # (a language without a catalogue is written in English)
    counts = run_invitations(smtp_app)
    row = smtp_app.db.execute("select status, last_error from survey_invitations where order_ref = 'A-1'").fetchone()
    assert row[0] == "failed" and "cannot build the email: ValueError" in row[1]
    assert counts.skipped == 1


def test_an_author_with_line_breaks_is_alerted_with_a_clean_header(smtp_app, tmp_path):
    import_bytes(smtp_app, tmp_path, "a.jsonl", jsonl(id="1", author="eve\r\nBcc: x@example.com",
                                                        text="Caffè Aurora pessimo"))
    result = run_dispatch(smtp_app)
    assert (result.sent, result.failed) == (1, 0)
    subject = smtp_app.inbox.messages()[0]["Subject"]
    assert " ".join(subject.split()) == "[Ascolto] Cliente scontento su X: eve Bcc: x@example.com (Caffè Aurora)"
    assert [e.rcpt_tos for e in smtp_app.inbox.envelopes] == [["cm@example.com"]]  # no Bcc smuggled in


def test_absurd_dates_are_refused_on_the_way_in(smtp_app, tmp_path, caplog):
    counts = import_bytes(smtp_app, tmp_path, "old.jsonl", jsonl(id="1", text="Caffè Aurora", created_at="0001-01-01T00:00:00-01:00")
                          + jsonl(id="2", text="Caffè Aurora"))
    assert (counts.new, counts.errors) == (1, 1) and "is not between 1970 and 2100" in caplog.text
    web = wsgi_app(smtp_app).test_client()
    answer = web.post("/api/orders", json={"order_ref": "W-1", "email": "c@example.com",
                                           "purchased_at": "0001-01-01T00:00:00-01:00", "legal_basis": "consent"},
                      headers={"Authorization": f"Bearer {ORDERS_SECRET}"})
    assert answer.status_code == 400 and "between 1970 and 2100" in answer.get_json()["error"]


def test_alerts_of_a_renamed_brand_still_go_out(smtp_app, tmp_path, make_app, smtp_server):
    import_bytes(smtp_app, tmp_path, "a.jsonl", jsonl(id="1", text="Lanificio Vento pessimo"))
    renamed = smtp_app.config.path.read_text(encoding="utf-8").replace('name = "Lanificio Vento"',
                                                                      'name = "Vento Lana"')
    smtp_app.config.path.write_text(renamed.replace('keywords = ["Lanificio Vento"]', 'keywords = ["Vento Lana"]'),
                                    encoding="utf-8")
    later = make_app(config=smtp_app.config.path)
    result = run_dispatch(later)
    assert (result.sent, result.failed) == (2, 0)  # cm@ and wool@, in the old brand's name
    assert "Lanificio Vento" in smtp_app.inbox.messages()[0]["Subject"]


def test_an_alert_that_cannot_be_built_fails_alone(smtp_app, tmp_path):
    import_bytes(smtp_app, tmp_path, "a.jsonl", jsonl(id="1", text="Caffè Aurora pessimo"))
    with smtp_app.db.atomic():
        smtp_app.db.execute("insert into alerts (kind, subject, brand, details, created_at) values "
                            "('detractor_response', 'response:99', 'Caffè Aurora', '{}', '2026-11-23T09:00:00Z')")
        smtp_app.db.execute("insert into deliveries (alert_id, channel, target, mode, status, attempts, "
                            "next_attempt_at, created_at) values (2, 'email', 'cm@example.com', 'immediate', 'pending',"
                            " 0, '2026-11-23T09:00:00Z', '2026-11-23T09:00:00Z')")
    result = run_dispatch(smtp_app)
    assert (result.sent, result.failed) == (1, 1)
    failed = smtp_app.db.execute("select last_error from deliveries where status = 'failed'").fetchone()[0]
    assert failed.startswith("cannot build the message: KeyError")


# ---- 4, 5, 6: unsubscribe header, huge texts, refused recipients --------------------------------

def test_list_unsubscribe_is_one_bare_url_in_the_raw_message(make_app, smtp_server, monkeypatch, tmp_path, ascolto):
    monkeypatch.setenv("ASCOLTO_SECRET", SECRET)
    controller, inbox = smtp_server()
    base = "https://feedback.customer-care.caffeaurora-example.com/sondaggi/dopo-ogni-acquisto"
    app = make_app(smtp=f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"',
                   extra=WEB.replace("https://feedback.example.com", base))
    orders = tmp_path / "orders.csv"
    orders.write_text("order_ref,email,name,language,purchased_at,legal_basis\n"
                      "A-1,a@example.com,Ann,it,2026-11-18T10:00:00Z,consent\n", encoding="utf-8")
    ascolto(["surveys", "import-orders", str(orders), "--config", str(app.config.path)])
    run_invitations(app)
    raw = inbox.envelopes[0].original_content
    header = re.search(rb"^List-Unsubscribe: (.*)$", raw, re.M).group(1).rstrip(b"\r")
    assert header.startswith(b"<" + base.encode() + b"/u/") and header.endswith(b">") and b"=?" not in header
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw


def test_a_huge_text_is_stored_capped_with_its_length_and_quoted_short(smtp_app, tmp_path):
    huge = "Caffè Aurora pessimo " + "x" * 300_000
    import_bytes(smtp_app, tmp_path, "huge.jsonl", jsonl(id="1", text=huge))
    row = smtp_app.db["mentions"].get("x:1")
    assert len(row["text"]) == 20_000 and row["text_length"] == len(huge) and len(row["raw"]) < 250_000
    run_dispatch(smtp_app)
    assert len(smtp_app.inbox.envelopes[0].original_content) < 20_000


def test_a_huge_author_is_one_short_line_in_the_store_and_the_email(smtp_app, tmp_path):
    import_bytes(smtp_app, tmp_path, "author.jsonl", jsonl(id="1", text="Caffè Aurora pessimo",
                                                           author="mallory\r\nBcc: x@example.com " + "m" * 1_000_000))
    author = smtp_app.db["mentions"].get("x:1")["author"]
    assert author.startswith("mallory Bcc: x@example.com m") and len(author) == 120
    run_dispatch(smtp_app)
    message = smtp_app.inbox.envelopes[0].original_content
    assert len(message) < 60_000 and b"\nBcc:" not in message


class RefuseWool:
    """An SMTP server that takes cm@ and refuses wool@ (550)."""

    def __init__(self):
        from helpers.smtp import Inbox

        self.inbox = Inbox()
        self.envelopes = self.inbox.envelopes

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("wool@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return await self.inbox.handle_DATA(server, session, envelope)


def test_a_refused_recipient_fails_alone(make_app, smtp_server, tmp_path):
    handler = RefuseWool()
    controller, _ = smtp_server(handler=handler)
    app = make_app(smtp=f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"')
    import_bytes(app, tmp_path, "a.jsonl", jsonl(id="1", text="Lanificio Vento pessimo"))
    result = run_dispatch(app)
    assert (result.sent, result.failed) == (1, 1)
    rows = dict(app.db.execute("select target, status || ' ' || coalesce(last_error, '') from deliveries"))
    assert rows["cm@example.com"] == "sent " and rows["wool@example.com"].startswith("failed recipient refused")
    assert "550" in rows["wool@example.com"] and len(handler.envelopes) == 1


# ---- 7, 8, 9: one Error: line, exit codes, interrupted runs --------------------------------------

def ascolto(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "listener", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("case", ["folder", "under-a-file", "not-utf8"])
def test_bad_database_paths_and_config_files_print_one_error_line(tmp_path, case):
    config = write_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    if case == "folder":
        (tmp_path / "db").mkdir()
        config.write_text(text.replace('path = "test.db"', 'path = "db"'), encoding="utf-8")
    elif case == "under-a-file":
        (tmp_path / "file").write_text("x")
        config.write_text(text.replace('path = "test.db"', 'path = "file/test.db"'), encoding="utf-8")
    else:
        config.write_bytes(text.encode("utf-8") + "# caffè".encode("cp1252"))
    result = ascolto("alerts", "send", "--config", str(config))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert {"folder": "is a folder; name the database file in it", "under-a-file": "cannot open the database",
            "not-utf8": "not UTF-8 text"}[case] in lines[0]


def test_serve_on_a_port_in_use_and_a_prehistoric_since_print_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("ASCOLTO_SECRET", SECRET)
    config = write_config(tmp_path, extra=WEB)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = ascolto("serve", "--config", str(config), "--port", str(busy.getsockname()[1]))
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1].startswith("Error: cannot listen on")
    since = ascolto("report", "--config", str(config), "--since", "0999-01-01")
    assert since.returncode == 1 and since.stderr.strip() == \
        "Error: --since: expected a date from 1970 to today, got 0999-01-01"


def test_run_once_exits_non_zero_when_a_source_failed_and_zero_when_one_is_only_not_set_up(tmp_path):
    (tmp_path / "folder.jsonl").mkdir()
    failing = write_config(tmp_path, sources='[[sources]]\ntype = "import"\nname = "broken"\npath = "folder.jsonl"\n')
    result = ascolto("run", "--once", "--config", str(failing))
    assert result.returncode == 1 and "Error: 1 source failed: import:broken (cannot read" in result.stderr
    assert "import:broken  fetched 0" in result.stdout  # the summary is printed first
    quiet = write_config(tmp_path, sources='[[sources]]\ntype = "x"\nname = "x"\nbearer_token_env = "NO_SUCH_VAR"\n')
    assert ascolto("run", "--once", "--config", str(quiet)).returncode == 0


def test_runs_of_a_dead_process_are_marked_interrupted(make_app):
    app = make_app(mailer=None)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with app.db.atomic():
        app.db["runs"].insert({"job": "import:x", "started_at": "2026-11-23T08:00:00Z", "status": "running",
                               "pid": dead.pid, "host": socket.gethostname()})
        app.db["runs"].insert({"job": "import:y", "started_at": "2026-11-23T08:00:00Z", "status": "running",
                               "pid": os.getpid(), "host": socket.gethostname()})
    start_run(app.db, "import:z", "2026-11-23T09:00:00Z")
    statuses = dict(app.db.execute("select job, status from runs"))
    assert statuses == {"import:x": "interrupted", "import:y": "running", "import:z": "running"}


# ---- 10, 11: the orders API and odd links -------------------------------------------------------

def test_orders_api_wants_bearer_answers_413_in_json_and_secures_every_response(smtp_app):
    web = wsgi_app(smtp_app).test_client()
    order = {"order_ref": "W-1", "email": "w@example.com", "purchased_at": "2026-11-20T10:00:00Z"}
    assert web.post("/api/orders", json=order, headers={"Authorization": ORDERS_SECRET}).status_code == 401
    big = web.post("/api/orders", data="x" * 40_000, content_type="application/json",
                   headers={"Authorization": f"Bearer {ORDERS_SECRET}"})
    assert big.status_code == 413 and big.get_json() == {"error": "request body over 32 kB"}
    for response in (big, web.get("/nowhere"), web.get("/api/orders"),
                     web.post("/api/orders", json=order, headers={"Authorization": f"Bearer {ORDERS_SECRET}"})):
        assert response.headers["Cache-Control"] == "no-store" and response.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_a_signed_link_with_an_odd_score_is_a_bad_link(smtp_app, tmp_path, ascolto):
    from listener.kernel.signing import Token, sign

    orders = tmp_path / "orders.csv"
    orders.write_text("order_ref,email,name,language,purchased_at,legal_basis\n"
                      "A-1,a@example.com,Ann,it,2026-11-18T10:00:00Z,consent\n", encoding="utf-8")
    ascolto(["surveys", "import-orders", str(orders), "--config", str(smtp_app.config.path)])
    run_invitations(smtp_app)
    public_id = smtp_app.db.execute("select public_id from survey_invitations").fetchone()[0]
    web = wsgi_app(smtp_app).test_client()
    for value in ("abc", "99999999999999999999", "11"):
        token = sign(Token("s", public_id, value, 4_000_000_000), SECRET.encode())
        assert web.get(f"/s/{token}").status_code == 400


# ---- 12: planning is linear ---------------------------------------------------------------------

def test_planning_reads_the_day_counts_once_per_brand_not_per_order(smtp_app, tmp_path, ascolto):
    lines = ["order_ref,email,name,language,purchased_at,legal_basis"]
    lines += [f"A-{i},c{i}@example.com,C{i},it,2026-11-18T10:00:00Z,consent" for i in range(60)]
    (tmp_path / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ascolto(["surveys", "import-orders", str(tmp_path / "orders.csv"), "--config",
                             str(smtp_app.config.path)])
    from surveys.invitations import InvitationCounts, plan

    statements = []
    smtp_app.db.conn.set_trace_callback(statements.append)
    counts = InvitationCounts()
    plan(smtp_app.db, smtp_app.config.surveys, {b.name: b.zone for b in smtp_app.config.brands}, smtp_app.now(), counts)
    smtp_app.db.conn.set_trace_callback(None)
    assert counts.created == 60
    assert sum("count(*)" in s for s in statements) <= 3  # once for the one brand, not twice per order


def test_the_servers_own_error_answers_carry_the_security_headers(smtp_app):
    """waitress answers a malformed request itself, before the app sees it: with our headers too."""
    import socket
    import threading

    from listener.web import make_server

    server = make_server(smtp_app, "127.0.0.1", 0)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        answers = []
        for request in (b"GET /s/x HTTP/1.1\r\nHost: a\r\nContent-Length: nope\r\n\r\n",
                        b"GET /s/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", server.effective_port), timeout=5) as conn:
                conn.sendall(request)
                answers.append(b"".join(iter(lambda: conn.recv(65536), b"")).decode("latin-1"))
    finally:
        server.close()
    for answer in answers:
        assert answer.startswith("HTTP/1.1 400"), answer[:200]
        assert "Content-Security-Policy: default-src 'none'" in answer and "X-Frame-Options: DENY" in answer
