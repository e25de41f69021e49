"""The learning loop against its attack, with the real offline model and the shipped gate set: one
recipient says "not a complaint" of 300 real complaints, and the detector must keep hearing
complaints; a team's honest corrections must still be able to teach it. Real texts come from
../shared/data (training files; never the held-out evaluation)."""

import json

import pytest

from helpers.paths import SHARED
from listener.jobs.learning import run_retrain
from listener.learning import gate
from listener.store.models import active_version

DATA = SHARED / "data" / "sentiment"
pytestmark = [pytest.mark.model,
              pytest.mark.skipif(not (DATA / "complaints_english_train.jsonl").is_file()
                                 or not (DATA / "absita2018_italian_train.jsonl").is_file(),
                                 reason="needs ../shared/data/sentiment (complaints_english, absita2018 training files)")]


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def complaints(count: int, skip: int = 0) -> list[tuple[str, str]]:
    """(text, lang) of real complaints, half English tweets to brands, half Italian hotel reviews."""
    english = [r["text"] for r in rows("complaints_english_train.jsonl") if r["complaint"]][skip:skip + count // 2]
    italian = [r["text"] for r in rows("absita2018_italian_train.jsonl") if r["label"] == "negative"
               and len(r["text"]) > 40][skip:skip + count - count // 2]
    return [(t, "en") for t in english] + [(t, "it") for t in italian]


@pytest.fixture
def real(make_app, offline_scorer):
    """An app on the real model, with a brand's 500 earlier mentions (what a retrain must keep doing)."""
    app = make_app(scorer=offline_scorer)
    app.__dict__.pop("scorer")  # the loader's own: a retrain reloads it with the new heads
    earlier = [(r["text"], "en") for r in rows("complaints_english_train.jsonl")[1000:1300]] + [
        (r["text"], "it") for r in rows("absita2018_italian_train.jsonl")[2000:2200]]
    with app.db.atomic():
        app.db["mentions"].insert_all({"id": f"x:m{i}", "source": "x", "native_id": f"m{i}", "brand": "Caffè Aurora",
                                       "text": text, "lang": lang, "created_at": "2026-11-19T10:00:00Z",
                                       "collected_at": "2026-11-19T10:00:00Z"} for i, (text, lang) in enumerate(earlier))
    return app


def correct(app, texts, label: str, author: str, start: int = 0) -> None:
    with app.db.atomic():
        for i, (text, lang) in enumerate(texts, start=start):
            app.db["mentions"].insert({"id": f"x:{i}", "source": "x", "native_id": str(i), "brand": "Caffè Aurora",
                                       "text": text, "lang": lang, "created_at": "2026-11-20T10:00:00Z",
                                       "collected_at": "2026-11-20T10:00:00Z", "nps_class": "detractor"}, ignore=True)
            app.db["corrections"].insert({"kind": "mention", "subject_id": f"x:{i}", "text": text, "task": "detector",
                                          "model_label": "unhappy", "label": label, "author": author, "via": "link",
                                          "created_at": f"2026-11-23T08:{i // 60 % 60:02d}:{i % 60:02d}Z"})


def alerts(app, texts) -> int:
    detector = app.scorer.detector
    return sum(detector.is_unhappy(s.unhappy, lang) for s, (_, lang) in zip(app.scorer.score([t for t, _ in texts]),
                                                                           texts))


def test_one_recipient_clicking_not_a_complaint_on_300_complaints_cannot_silence_alerts(real):
    fresh = complaints(50, skip=400)  # complaints that come in after the retrain
    heard_before = alerts(real, fresh)
    correct(real, complaints(300), "other", "mallory@example.com")
    result = run_retrain(real)
    version = json.loads(real.db.execute("select validation from model_versions where name = 'r1'").fetchone()[0])
    recall = {c["on"]: (c["old"], c["new"]) for c in version if c["metric"] == "recall"}
    print(f"\n{result.status}: {result.message}\ngate recall (old, new): {recall}")
    if result.status == "adopted":  # allowed only with recall held, on every preset and language
        assert all(new >= old - gate.RECALL_TOLERANCE for old, new in recall.values())
    else:
        assert result.status == "refused" and "recall" in result.message
        assert active_version(real.db).name.startswith("shipped:")
        assert real.db.execute("select count(*) from alerts where subject = 'model:r1:model_refused'").fetchone()[0]
    heard_after = alerts(real, fresh)
    print(f"complaints heard of 50 new ones: before {heard_before}, after {heard_after}")
    assert heard_after >= heard_before - 2


def test_honest_corrections_from_a_team_are_adopted_with_the_gate_passed(real):
    """False alarms marked "not a complaint" and misses marked "this is a complaint", by two people."""
    english = rows("complaints_english_val.jsonl")  # tweets to brands it was not trained on
    scores = real.scorer.score([r["text"] for r in english])
    detector = real.scorer.detector
    false_alarms = [(r["text"], "en") for r, s in zip(english, scores)
                    if not r["complaint"] and detector.is_unhappy(s.unhappy, "en")][:30]
    misses = [(r["text"], "en") for r, s in zip(english, scores)
              if r["complaint"] and not detector.is_unhappy(s.unhappy, "en")][:30]
    correct(real, false_alarms[::2] + misses[::2], "", "anna@example.com")  # labels set below, per text
    correct(real, false_alarms[1::2] + misses[1::2], "", "bruno@example.com", start=1000)
    with real.db.atomic():
        real.db.execute("update corrections set label = case when text in (%s) then 'unhappy' else 'other' end"
                        % ",".join("?" * len(misses)), [t for t, _ in misses])
    result = run_retrain(real)
    print(f"\n{len(false_alarms)} false alarms, {len(misses)} misses corrected: {result.status}: {result.message}")
    assert result.status == "adopted", result.message
    assert real.db.execute("select count(*) from alerts where subject = 'model:r1:model_adopted'").fetchone()[0] == 1


def test_an_english_brands_honest_corrections_leave_italian_as_it_was(make_app, offline_scorer):
    """A brand whose mentions are all English: its corrections retrain the one detector head that
    judges Italian too. With nothing to hold the Italian thresholds, a team's 100 honest labels of
    airline reviews cut Italian balanced recall on the gate set from 0.94 to 0.71 (found by ``ascolto
    eval --simulate-feedback``), and the gate refused every version the team's labels made."""
    skytrax = DATA / "skytrax_english_train.jsonl"
    if not skytrax.is_file():
        pytest.skip("needs ../shared/data/sentiment/skytrax_english_train.jsonl")
    reviews = [(r["text"], r["label"] == "negative") for r in rows("skytrax_english_train.jsonl")]
    app = make_app(scorer=offline_scorer)
    app.__dict__.pop("scorer")
    with app.db.atomic():
        app.db["mentions"].insert_all({"id": f"x:m{i}", "source": "x", "native_id": f"m{i}", "brand": "Caffè Aurora",
                                       "text": text, "lang": "en", "created_at": "2026-11-19T10:00:00Z",
                                       "collected_at": "2026-11-19T10:00:00Z"} for i, (text, _) in enumerate(reviews[:220]))
    shown = reviews[220:420]  # what the team sees: the alerts, and the near misses, with their labels
    detector = app.scorer.detector
    scores = app.scorer.score([text for text, _ in shown])
    seen = [(text, unhappy) for (text, unhappy), s in zip(shown, scores)
            if detector.probability(s.unhappy, "en") >= 0.6 * detector.threshold("balanced", "en")][:100]
    for turn, person in enumerate(("anna@example.com", "bruno@example.com")):  # in turn, each the file's label
        mine = seen[turn::2]
        correct(app, [(text, "en") for text, unhappy in mine if unhappy], "unhappy", person, start=1000 * turn)
        correct(app, [(text, "en") for text, unhappy in mine if not unhappy], "other", person, start=1000 * turn + 500)
    result = run_retrain(app)
    version = json.loads(app.db.execute("select validation from model_versions where name = 'r1'").fetchone()[0])
    italian = {c["on"]: (c["old"], c["new"]) for c in version if c["metric"] == "recall" and " it " in c["on"]}
    print(f"\n{len(seen)} labels: {result.status}: {result.message}\nItalian gate recall (old, new): {italian}")
    assert result.status == "adopted", result.message
    assert all(new >= old - gate.RECALL_TOLERANCE for old, new in italian.values())
