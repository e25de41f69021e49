"""Scoring on a real local Ray cluster (two nodes of one CPU each, on loopback) with the tiny model the
tests build: the same scores as in this process, in order; a worker killed in the middle of a batch
is restarted and its part scored again; an import through the cluster stores every row once with
one alert per unhappy mention, even when a worker dies during it."""

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'ascolto[cluster]'")
# Ray's own timers and deadlines stall under libfaketime's shifted clocks (CI's runs a year ahead and a
# month back); these tests depend on no date, and they run in the unshifted run.
pytestmark = pytest.mark.skipif("FAKETIME" in os.environ, reason="Ray does not run under faketime's shifted clock")

from helpers.models import tiny_head_file  # noqa: E402
from sentiment.errors import ModelUnavailable  # noqa: E402
from sentiment.runtime.cluster import ClusterScorer, ClusterSettings, same_model  # noqa: E402
from sentiment.runtime.loading import ModelSettings, load_scorer  # noqa: E402

WORDS = ["good", "great", "love", "bad", "awful", "hate", "ok", "the", "it", "ottimo", "pessimo", "servizio"]


def texts(n: int) -> list[str]:
    return [" ".join(WORDS[(i * k) % len(WORDS)] for k in (1, 3, 7, 11)[: 2 + i % 3]) for i in range(n)]


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    local = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024,
                                                          "include_dashboard": False})
    local.add_node(num_cpus=1, object_store_memory=80 * 1024 * 1024)
    yield local
    ray.shutdown()
    local.shutdown()


@pytest.fixture(scope="module")
def model(tiny_encoder_dir, tmp_path_factory):
    weight = np.random.default_rng(7).normal(size=(2, 16)) * -8  # scores that differ from text to text
    return ModelSettings(name=str(tiny_encoder_dir), head=tiny_head_file(tmp_path_factory.mktemp("head"), weight))


def test_the_cluster_scores_as_this_process_does_in_order(cluster, model):
    local = load_scorer(model)

    def ours(*_):  # the job's own SIGTERM handler: stop after the chunk in hand
        pass

    previous = signal.signal(signal.SIGTERM, ours)
    try:
        scorer = ClusterScorer(model, ClusterSettings(cluster.address, workers=2, sub_batch=7))  # ray.init here
        assert signal.getsignal(signal.SIGTERM) is ours  # ray.init installs its own; ours is put back
    finally:
        signal.signal(signal.SIGTERM, previous)
    batch = texts(60) + ["", "   "]
    here, there = local.score(batch), scorer.score(batch)
    assert [s.label for s in there] == [s.label for s in here]
    assert np.allclose([s.unhappy or 0 for s in there], [s.unhappy or 0 for s in here], atol=1e-5)
    assert np.allclose(scorer.embed(batch[:10]), local.embed(batch[:10]), atol=1e-5)
    from sentiment.scoring import Scorer

    assert isinstance(scorer, Scorer)  # a backend of the one scoring protocol
    assert scorer.name.endswith(":ray") and scorer.detector is not None
    assert {s["texts"] > 0 for s in scorer.stats()} == {True}  # both workers took part
    scorer.close()


def test_a_worker_killed_mid_batch_is_restarted_and_its_part_scored_again(cluster, model):
    local = load_scorer(model)
    scorer = ClusterScorer(model, ClusterSettings(cluster.address, workers=2, sub_batch=4))
    # 3,000 texts once took over a second, and on an idle machine under one: the kill came after the
    # batch. 12,000 texts take seconds; the kill comes 0.2 s after the batch starts, whatever the speed
    # (a kill before the first part was sent would still leave the worker to restart and retry).
    batch = texts(12000)
    expected = [s.unhappy for s in local.score(batch)]
    victim = scorer.stats()[0]["pid"]
    result = {}
    worker = threading.Thread(target=lambda: result.update(scores=scorer.score(batch)))
    worker.start()
    time.sleep(0.2)
    assert worker.is_alive(), "the batch ended before the kill: make it longer"
    os.kill(victim, signal.SIGKILL)
    worker.join(timeout=300)
    assert np.allclose([s.unhappy for s in result["scores"]], expected, atol=1e-5)  # nothing lost, in order
    assert scorer.stats()[0]["pid"] != victim  # restarted
    scorer.close()


def test_an_import_through_the_cluster_survives_a_killed_worker(cluster, model, make_app, tmp_path):
    from listener.jobs.collect import run_import
    from listener.sources.files import Settings as ImportSource

    extra = (f'[model]\nname = "{model.name}"\nhead = "{model.head}"\n'
             f'[cluster]\naddress = "{cluster.address}"\nworkers = 2\nsub_batch = 4\n')
    app = make_app(extra=extra, scorer=None, mailer=None)
    del app.scorer  # the configured one: on the cluster
    rows = texts(2000)
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"id": str(i), "source": "x", "author": f"a{i}",
                                                          "text": f"Caffè Aurora {text}", "lang": "it",
                                                          "created_at": "2026-11-23T08:00:00Z"}) + "\n"
                                              for i, text in enumerate(rows)), encoding="utf-8")
    victim = app.scorer.inner.stats()[1]["pid"]
    outcome = {}
    importing = threading.Thread(target=lambda: outcome.update(
        counts=run_import(app, ImportSource(name="m", path=tmp_path / "m.jsonl"))))
    importing.start()
    time.sleep(1.0)
    alive = importing.is_alive()
    os.kill(victim, signal.SIGKILL)
    importing.join(timeout=300)
    assert alive and outcome["counts"].new == 2000
    db = app.db
    assert db.execute("select count(*), count(distinct id) from mentions").fetchone() == (2000, 2000)
    unhappy = db.execute("select count(*) from mentions where nps_class = 'detractor'").fetchone()[0]
    assert unhappy > 0 and db.execute("select count(*) from alerts where kind = 'detractor_mention'"
                                      ).fetchone()[0] == unhappy
    local = load_scorer(model)
    stored = [r[0] for r in db.execute("select p_unhappy from mentions order by cast(native_id as integer)")]
    expected = [local.detector.probability(s.unhappy, "it") for s in local.score([f"Caffè Aurora {t}" for t in rows])]
    assert np.allclose(stored, expected, atol=1e-5)  # the same scores as this process would have stored
    app.scorer.inner.close()


def test_cluster_status_and_rescore_on_the_cluster(cluster, model, make_app, tmp_path, ascolto):
    from listener.jobs.collect import run_import
    from listener.sources.files import Settings as ImportSource

    extra = (f'[model]\nname = "{model.name}"\nhead = "{model.head}"\n'
             f'[cluster]\naddress = "{cluster.address}"\nworkers = 2\nsub_batch = 8\n')
    app = make_app(extra=extra, mailer=None)  # imports with the keyword stand-in: history of another model
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"id": str(i), "source": "x", "author": f"a{i}", "lang": "it",
                                                          "text": f"Caffè Aurora {t}", "created_at": "2026-11-23T08:00:00Z"})
                                              + "\n" for i, t in enumerate(texts(40))), encoding="utf-8")
    run_import(app, ImportSource(name="m", path=tmp_path / "m.jsonl"))
    status = ascolto(["cluster", "status", "--config", str(app.config.path)])
    assert status.exit_code == 0, status.output
    assert "nodes 2  CPUs 2" in status.output and status.output.count("worker pid") == 2
    assert "texts/s over 2 workers" in status.output
    done = ascolto(["rescore", "--config", str(app.config.path)])
    assert done.exit_code == 0, done.output
    assert ":ray  scored 40" in done.output
    models = {r[0] for r in app.db.execute("select model from mentions")}
    assert len(models) == 1 and models.pop().endswith(":ray")


def test_workers_that_loaded_different_models_are_refused_with_the_fix():
    # runtime "auto" on mixed machines: one worker's CPU has VNNI (int8), another's has not (float32)
    assert same_model(["offline:e5-small+care-lora:onnx-int8"] * 2) == "offline:e5-small+care-lora:onnx-int8"
    with pytest.raises(ModelUnavailable, match='different models .*:onnx, .*:onnx-int8.*set model.runtime to "onnx"'):
        same_model(["offline:e5-small+care-lora:onnx-int8", "offline:e5-small+care-lora:onnx"])
