"""Scoring on a Ray cluster: a backend of the scoring protocol (``sentiment.scoring.Scorer``).

Each worker is a Ray actor that loads the model once (``load_scorer`` with the same settings as an
in-process scorer, its threads capped to the CPUs it was given). A batch is split into sub-batches,
spread over the actors, and gathered back in order: the caller (the one SQLite writer) gets the
whole batch's scores or an error, never part of it, so a chunk commits only when all its results
are back. Scoring is a pure function of the text, so a sub-batch whose actor died is simply scored
again: actors restart (``max_restarts``) and their calls are retried (``max_task_retries``).

Ray is imported only here, only when a cluster is configured. Its usage statistics are off (nothing
leaves the company), and the signal handlers of the calling process (SIGTERM stops a job after the
chunk in hand) are put back after ``ray.init``, which installs its own.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sentiment.errors import ModelUnavailable
from sentiment.scoring import Score

RESTARTS = 3  # an actor killed (a node lost, out of memory) comes back this many times
RETRIES = 3  # and a call it was running is sent again this many times


@dataclass(frozen=True)
class ClusterSettings:
    address: str = "local"  # "local": a Ray on this machine; "auto": the node's cluster; "ray://host:10001"
    workers: int = 2
    cpus_per_worker: float = 1.0
    sub_batch: int = 64  # texts per call to an actor


class _Worker:
    """One model in one Ray worker process."""

    def __init__(self, settings, threads: int):
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(threads)
        from .loading import load_scorer

        self.scorer = load_scorer(dataclasses.replace(settings, threads=threads))
        self.texts, self.seconds = 0, 0.0

    def describe(self):
        return self.scorer.name, self.scorer.detector, self.scorer.heads

    def score(self, texts: list[str]) -> list[Score]:
        started = time.perf_counter()
        scores = self.scorer.score(texts)
        self.texts, self.seconds = self.texts + len(texts), self.seconds + time.perf_counter() - started
        return scores

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.scorer.embed(texts)

    def stats(self) -> dict:
        return {"pid": os.getpid(), "texts": self.texts, "seconds": round(self.seconds, 3)}


def connect(address: str, cpus: float | None = None):
    """``ray.init`` with usage statistics off and this process's signal handlers kept."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return ray
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address == "local":
        ray.init(num_cpus=cpus, **options)
    else:
        ray.init(address=address, **options)
    for number, handler in handlers.items():
        if handler is not None:
            signal.signal(number, handler)
    return ray


def same_model(names) -> str:
    """The one model every worker loaded: a text's score must not depend on which worker got it. They
    can differ on a cluster of mixed machines: with ``runtime = "auto"`` each worker picks int8 or
    float32 by its own CPU, and one without onnxruntime falls back to torch."""
    distinct = sorted(set(names))
    if len(distinct) > 1:
        raise ModelUnavailable(f"the cluster's workers loaded different models ({', '.join(distinct)}); set "
                               "model.runtime to \"onnx\" or \"onnx-int8\" rather than \"auto\" on mixed "
                               "machines, and install the same extras on every node")
    return distinct[0]


class ClusterScorer:
    """The scoring protocol, served by ``workers`` actors of ``cpus_per_worker`` CPUs each."""

    def __init__(self, model_settings, cluster: ClusterSettings):
        self.cluster = cluster
        ray = connect(cluster.address, cluster.workers * cluster.cpus_per_worker if cluster.address == "local" else None)
        self.ray = ray  # the connected Ray: status commands read its nodes
        actor = ray.remote(num_cpus=cluster.cpus_per_worker, max_restarts=RESTARTS, max_task_retries=RETRIES)(_Worker)
        threads = max(int(cluster.cpus_per_worker), 1)
        self.actors = [actor.remote(model_settings, threads) for _ in range(cluster.workers)]
        described = ray.get([worker.describe.remote() for worker in self.actors])
        name, self.detector, self.heads = described[0]
        self.name = f"{same_model(name for name, _, _ in described)}:ray"

    def _spread(self, method: str, texts: Sequence[str]) -> list:
        """``method`` on sub-batches of ``texts``, round-robin over the actors, results in order."""
        size = self.cluster.sub_batch
        parts = [list(texts[start:start + size]) for start in range(0, len(texts), size)]
        refs = [getattr(self.actors[i % len(self.actors)], method).remote(part) for i, part in enumerate(parts)]
        return self.ray.get(refs)

    def score(self, texts: Sequence[str]) -> list[Score]:
        return [score for part in self._spread("score", texts) for score in part]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        parts = self._spread("embed", texts)
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def stats(self) -> list[dict]:
        return self.ray.get([actor.stats.remote() for actor in self.actors])

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
