"""Several writers on one SQLite file at once wait for each other: none fails, every row is stored once.

Real processes and a real server on loopback: shops post orders to the orders endpoint from 8
threads while an import process and two `run --once` processes write the same file. Bounded: a few
hundred requests, 127.0.0.1 only.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from helpers.net import free_port
from helpers.paths import worker
from listener.web import wsgi_app

ORDERS_SECRET = "orders-secret-for-tests-0123456789"
CLIENTS, ORDERS_EACH, MENTIONS = 8, 40, 600




@pytest.fixture
def served(tmp_path, make_app, monkeypatch):
    from waitress import create_server

    monkeypatch.setenv("ASCOLTO_ORDERS_SECRET", ORDERS_SECRET)
    monkeypatch.setenv("ASCOLTO_SECRET", "survey-secret-for-tests-0123456789")
    (tmp_path / "many.jsonl").write_text("".join(
        json.dumps({"id": str(i), "source": "x", "author": f"u{i}", "text": f"Caffè Aurora pessimo n. {i}",
                    "created_at": "2026-11-20T10:00:00Z"}) + "\n" for i in range(MENTIONS)), encoding="utf-8")
    port = free_port()
    app = make_app(extra=f'[web]\nbase_url = "http://127.0.0.1:{port}"\n[surveys]\nsender = "s@example.com"\n',
                   sources='[[sources]]\ntype = "import"\nname = "many"\npath = "many.jsonl"\n')
    app.db  # create and migrate before the server's first request
    server = create_server(wsgi_app(app), host="127.0.0.1", port=port, threads=CLIENTS)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{port}"
    server.close()
    thread.join(timeout=5)


def post_orders(base: str, client: int) -> list[int]:
    session, codes = requests.Session(), []
    for i in range(ORDERS_EACH):
        order = {"order_ref": f"C{client}-{i}", "email": f"c{client}.{i}@example.com", "name": f"Client {i}",
                 "language": "it", "purchased_at": "2026-11-20T10:00:00Z", "legal_basis": "consent"}
        codes.append(session.post(f"{base}/api/orders", json=order, timeout=60,
                                  headers={"Authorization": f"Bearer {ORDERS_SECRET}"}).status_code)
    return codes


def test_writers_wait_for_each_other_and_store_every_row_once(served):
    app, base = served
    config = app.config.path
    processes = [worker("import", config), worker("run", config), worker("run", config)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        codes = [code for codes in pool.map(lambda c: post_orders(base, c), range(CLIENTS)) for code in codes]
    outputs = [process.communicate(timeout=240) for process in processes]

    assert codes.count(201) == CLIENTS * ORDERS_EACH, f"not created: {sorted(set(codes))}"
    for (out, err), process in zip(outputs, processes):
        assert process.returncode == 0 and "locked" not in err and "Traceback" not in err, err
    db = app.db
    assert db["orders"].count == CLIENTS * ORDERS_EACH
    assert db["customers"].count == CLIENTS * ORDERS_EACH
    assert db["mentions"].count == MENTIONS  # three processes imported the same file: each row once
    assert db.execute("select count(*), count(distinct subject) from alerts where kind = 'detractor_mention'"
                      ).fetchone() == (MENTIONS, MENTIONS)
    assert db.execute("select count(*) from runs where status in ('error', 'running', 'interrupted')").fetchone()[0] == 0
    # what each process says it inserted adds up to what is stored, once
    imported = json.loads(outputs[0][0].strip().splitlines()[-1])["new"]
    by_run = [int(line.split()[4]) for out, _ in outputs[1:] for line in out.splitlines() if line.startswith("import:")]
    assert imported + sum(by_run) == MENTIONS
