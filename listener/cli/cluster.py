"""`ascolto rescore` and `ascolto cluster status`: history scored again, and the Ray cluster it may run on."""

from __future__ import annotations

import time
from datetime import timezone
from pathlib import Path

import click

from listener.kernel.errors import AscoltoError
from listener.kernel.times import iso

from .common import check_brand, config_option, friendly, open_app


@click.command()
@config_option()
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only mentions written from this day (UTC).")
@click.option("--brand", help="One brand only.")
@click.option("--model", "version", help="A model version (`ascolto sentiment history`); default: the active one.")
@click.option("--alert-new", is_flag=True, help="Queue an alert and a case for each text now judged unhappy.")
@friendly
def rescore(config_path: Path, since, brand: str | None, version: str | None, alert_new: bool) -> None:
    """Score the stored mentions again (after a model change), resumable; on the cluster with [cluster]."""
    from listener.store.models import find_version

    from ..jobs.rescore import rescore as run_rescore

    app = open_app(config_path, require_secrets=False)
    check_brand(app.config, brand, config_path)
    head = None
    if version is not None:
        found = find_version(app.db, version)
        if found is None:
            raise AscoltoError(f"--model: no model version named {version!r} (see `ascolto sentiment history`)")
        head = Path(found.head_file) if found.head_file else None
    scorer = app.scorer_for(head) if version is not None else app.scorer
    done = run_rescore(app, scorer, since=iso(since.replace(tzinfo=timezone.utc)) if since else None, brand=brand,
                       alert_new=alert_new, progress=None)
    click.echo(f"rescore  {scorer.name}  scored {done.scored}  changed {done.changed}  newly unhappy "
               f"{done.newly_unhappy}  no longer unhappy {done.no_longer_unhappy}  alerts queued {done.alerts}  "
               f"{done.rate:.1f} mentions/s")
    app.close()


@click.group()
def cluster() -> None:
    """The Ray cluster scoring runs on ([cluster] in the configuration)."""


@cluster.command(name="status")
@config_option()
@friendly
def cluster_status(config_path: Path) -> None:
    """Nodes, their CPUs and memory, and how fast the model scores on the workers."""
    app = open_app(config_path, require_secrets=False)
    if app.config.cluster is None:
        raise AscoltoError(f"{config_path}: cluster: no [cluster] table: scoring runs in this process")
    c = app.config.cluster
    scorer = app.scorer.inner  # connects to the cluster and starts the workers, each loading the model once
    ray = scorer.ray
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    total, free = ray.cluster_resources(), ray.available_resources()
    click.echo(f"cluster  {c.address}  nodes {len(nodes)}  CPUs {total.get('CPU', 0):g} ({free.get('CPU', 0):g} free)")
    for node in nodes:
        resources = node.get("Resources", {})
        click.echo(f"  node {node.get('NodeManagerAddress')}  CPUs {resources.get('CPU', 0):g}  "
                   f"memory {resources.get('memory', 0) / 2 ** 30:.1f} GiB")
    texts = ["Caffè Aurora: il pacco non è mai arrivato"] * (c.workers * c.sub_batch)
    started = time.perf_counter()
    scorer.score(texts)
    seconds = time.perf_counter() - started
    for stats in scorer.stats():
        click.echo(f"  worker pid {stats['pid']}  scored {stats['texts']} texts in {stats['seconds']:.2f} s")
    click.echo(f"throughput  {len(texts) / seconds:.0f} texts/s over {c.workers} workers (a sample of "
               f"{len(texts)} texts, the model already loaded)")
    scorer.close()
    app.close()


COMMANDS = (rescore, cluster)
