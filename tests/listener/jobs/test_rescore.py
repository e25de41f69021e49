"""`ascolto rescore`: stored mentions scored again with another model, resumable after a crash,
what changed counted, alerts for newly unhappy texts only when asked."""

import json

import pytest

from helpers.models import KeywordScorer
from listener.jobs.collect import run_import
from listener.jobs.rescore import rescore
from listener.sources.files import Settings as ImportSource

TEXTS = ["Caffè Aurora pessimo", "Caffè Aurora ordine in ritardo", "Caffè Aurora ottimo", "Caffè Aurora ordine perso",
         "Caffè Aurora ok", "Caffè Aurora ordine ancora fermo", "Caffè Aurora love it"]


class Stricter(KeywordScorer):
    """A new model: a late or lost order is now a complaint too."""

    name = "test:keywords-v2"
    NEGATIVE = (*KeywordScorer.NEGATIVE, "ordine")


class Crashing(Stricter):
    """The same new model, on a machine that dies after its first batch."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def score(self, texts):
        self.batches += 1
        if self.batches == 2:
            raise MemoryError("the machine died")
        return super().score(texts)


@pytest.fixture
def app(make_app, tmp_path):
    application = make_app(mailer=None)
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"id": str(i), "source": "x", "author": f"a{i}", "text": t,
                                                          "created_at": "2026-11-23T08:00:00Z"}) + "\n"
                                              for i, t in enumerate(TEXTS)), encoding="utf-8")
    run_import(application, ImportSource(name="m", path=tmp_path / "m.jsonl"))
    return application


def classes(app) -> dict:
    return {r["id"]: (r["nps_class"], r["model"]) for r in app.db.query("select id, nps_class, model from mentions")}


def test_a_new_model_rescores_history_and_says_what_changed_without_paging_anyone(app):
    alerts_before = app.db["alerts"].count
    done = rescore(app, Stricter(), chunk=3)
    assert (done.scored, done.newly_unhappy, done.no_longer_unhappy, done.alerts) == (7, 3, 0, 0)
    assert classes(app)["x:1"] == ("detractor", "test:keywords-v2") and app.db["alerts"].count == alerts_before
    again = rescore(app, Stricter(), chunk=3)
    assert again.scored == 0  # the cursor: done is done


def test_a_crash_resumes_where_it_stopped_and_alert_new_queues_only_the_new(app):
    crashing = Crashing()
    with pytest.raises(MemoryError):
        rescore(app, crashing, chunk=3, alert_new=True)
    assert sum(model == "test:keywords-v2" for _, model in classes(app).values()) == 3  # the first chunk, committed
    done = rescore(app, Stricter(), chunk=3, alert_new=True)  # the same model, on a sound machine
    assert done.scored == 4 and all(model == "test:keywords-v2" for _, model in classes(app).values())
    queued = {r[0] for r in app.db.execute("select mention_id from alerts where kind = 'detractor_mention'")}
    assert {"x:1", "x:3", "x:5"} <= queued and len(queued) == 4  # the one complaint of before, three new
