from datetime import timedelta

from listener.jobs.scheduler import MISFIRE_GRACE_SECONDS, build_scheduler, dispatch_job, source_job


def test_jobs_have_explicit_ids_and_safe_defaults(make_app, clock):
    sources = ('[[sources]]\ntype = "import"\nname = "shop"\npath = "shop.jsonl"\ninterval_minutes = 30\n'
               '[[sources]]\ntype = "x"\nname = "x"\n[[sources]]\ntype = "reddit"\nname = "reddit"\n')
    app = make_app(sources=sources, mailer=None)
    scheduler = build_scheduler(app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"import:shop", "x:x", "reddit:reddit", "alerts:dispatch", "alerts:spikes", "model:learning",
                         "themes"}
    shop, dispatch = jobs["import:shop"], jobs["alerts:dispatch"]
    assert shop.func is source_job and shop.args == (app, "shop")
    assert dispatch.func is dispatch_job
    assert shop.trigger.interval == timedelta(minutes=30) and dispatch.trigger.interval == timedelta(minutes=1)
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == MISFIRE_GRACE_SECONDS > 1
    assert shop.next_run_time == clock()  # the first collection starts right away
    assert scheduler._executors["default"]._pool._max_workers == 1  # one writer


def test_job_functions_run_and_record_their_runs(tmp_path, make_app):
    export = tmp_path / "shop.jsonl"
    export.write_text('{"id": "1", "source": "x", "author": "a", "text": "Caffè Aurora pessimo", '
                      '"created_at": "2026-11-20T10:00:00Z"}\n', encoding="utf-8")
    sources = '[[sources]]\ntype = "import"\nname = "shop"\npath = "shop.jsonl"\n'
    app = make_app(sources=sources, mailer=None)
    source_job(app, "shop")
    dispatch_job(app)
    runs = [(r["job"], r["status"]) for r in app.db["runs"].rows]
    assert runs == [("import:shop", "ok"), ("alerts:dispatch", "ok")]
    assert app.db["alerts"].count == 1
