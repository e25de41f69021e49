from datetime import timedelta

from listener.jobs.scheduler import MISFIRE_GRACE_SECONDS, build_scheduler, run_logged
from listener.jobs.table import jobs as job_table


def test_jobs_have_explicit_ids_and_safe_defaults(make_app, clock):
    sources = ('[[sources]]\ntype = "import"\nname = "shop"\npath = "shop.jsonl"\ninterval_minutes = 30\n'
               '[[sources]]\ntype = "x"\nname = "x"\n[[sources]]\ntype = "reddit"\nname = "reddit"\n')
    app = make_app(sources=sources, mailer=None)
    scheduler = build_scheduler(app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"import:shop", "x:x", "reddit:reddit", "alerts:dispatch", "alerts:spikes", "model:learning",
                         "themes:upkeep", "themes:discovery"}
    shop, dispatch = jobs["import:shop"], jobs["alerts:dispatch"]
    assert shop.func is run_logged and shop.args[1].source == "shop"
    assert dispatch.func is run_logged and dispatch.args[1].id == "alerts:dispatch"
    assert shop.trigger.interval == timedelta(minutes=30) and dispatch.trigger.interval == timedelta(minutes=1)
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == MISFIRE_GRACE_SECONDS > 1
    assert shop.next_run_time == clock()  # the first collection starts right away
    assert scheduler._executors["default"]._pool._max_workers == 1  # one writer


def test_one_table_serves_the_scheduler_and_run_once(make_app):
    """The scheduler's jobs are the table's; ``run --once`` runs the same table but the weekly digest."""
    app = make_app(extra='[reports]\nrecipients = ["m@example.com"]\n', mailer=None)
    table = job_table(app)
    assert {job.id for job in build_scheduler(app).get_jobs()} == {job.id for job in table}
    assert [job.id for job in table if not job.once] == ["reports:digest"]
    assert [job.id for job in job_table(app, only="nope")] == ["alerts:dispatch"]


def test_job_functions_run_and_record_their_runs(tmp_path, make_app):
    export = tmp_path / "shop.jsonl"
    export.write_text('{"id": "1", "source": "x", "author": "a", "text": "Caffè Aurora pessimo", '
                      '"created_at": "2026-11-20T10:00:00Z"}\n', encoding="utf-8")
    sources = '[[sources]]\ntype = "import"\nname = "shop"\npath = "shop.jsonl"\n'
    app = make_app(sources=sources, mailer=None)
    table = {job.id: job for job in job_table(app)}
    run_logged(app, table["import:shop"])
    run_logged(app, table["alerts:dispatch"])
    runs = [(r["job"], r["status"]) for r in app.db["runs"].rows]
    assert runs == [("import:shop", "ok"), ("alerts:dispatch", "ok")]
    assert app.db["alerts"].count == 1


def test_a_hanging_source_does_not_hold_back_another_sources_alerts(make_app, smtp_server, tmp_path):
    """The feed's server takes the request and never answers while the scheduler runs; the shop's
    1,000 mentions are collected, scored and their alerts sent meanwhile (the real clock: the
    scheduler's own timing is what is tested; bounded to a minute)."""
    import json
    import threading
    import time

    from helpers.apps import write_config
    from helpers.net import serving
    from listener.kernel.times import iso, utc_now

    asked, release = threading.Event(), threading.Event()

    def hang(handler):
        asked.set()
        release.wait(90)
        handler.send_response(404)  # an answer that is not retried: the scheduler stops promptly
        handler.end_headers()

    controller, inbox = smtp_server()
    written = iso(utc_now() - timedelta(hours=1))
    (tmp_path / "shop.jsonl").write_text("".join(json.dumps(
        {"id": str(i), "source": "x", "author": f"c{i}", "created_at": written,
         "text": "Caffè Aurora pessimo" if i % 5 == 0 else "Caffè Aurora, ordine arrivato"}) + "\n"
        for i in range(1000)), encoding="utf-8")
    with serving(hang) as port:
        sources = (f'[[sources]]\ntype = "feed"\nname = "slow"\nurl = "http://127.0.0.1:{port}/feed"\n'
                   'brand = "Caffè Aurora"\n[[sources]]\ntype = "import"\nname = "shop"\npath = "shop.jsonl"\n')
        path = write_config(tmp_path, smtp=f'host = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"',
                            sources=sources, extra="[scheduler]\ndispatch_interval_minutes = 0.1\n")
        path.write_text(path.read_text(encoding="utf-8").replace(
            "max_retry_seconds = 600", "max_retry_seconds = 600\nhourly_cap = 1000\ngroup_window_minutes = 0"),
            encoding="utf-8")
        app = make_app(config=path, now=utc_now)
        scheduler = build_scheduler(app)
        threading.Thread(target=scheduler.start, daemon=True).start()
        deadline = time.monotonic() + 60
        while len(inbox.envelopes) < 200 and time.monotonic() < deadline:
            # Under faketime (CI runs the suite a year ahead) the monotonic clock is shifted but the
            # kernel's timed waits are not, so the scheduler's sleep until its next due job never
            # ends: wake it to look at its jobs, as adding a job would. What is due runs in its pool.
            scheduler.wakeup()
            time.sleep(0.2)
        feed_still_hanging = asked.is_set() and not release.is_set()
        release.set()
        scheduler.shutdown(wait=True)
    assert feed_still_hanging  # the feed was asked first and had not answered
    assert len(inbox.envelopes) == 200  # every alert of the shop's 1,000 mentions, meanwhile
    assert app.db["mentions"].count == 1000
