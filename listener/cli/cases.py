"""`ascolto cases ...`: follow every detractor to the end."""

from __future__ import annotations

import os
from pathlib import Path

import click

from listener.cases import STATUSES
from listener.kernel.errors import AscoltoError
from listener.kernel.hours import local_time

from .common import config_option, friendly, now_iso, open_app


@click.group()
def cases() -> None:
    """Follow-up cases: every detractor, from open to resolved or lost."""


@cases.command(name="list")
@config_option()
@click.option("--status", type=click.Choice(STATUSES), help="Only this status.")
@click.option("--overdue", is_flag=True, help="Only open or contacted cases past their due time.")
@click.option("--brand", help="Only this brand (any case).")
@friendly
def cases_list(config_path: Path, status: str | None, overdue: bool, brand: str | None) -> None:
    """List cases, soonest due first: who, what they wrote, when due (the brand's local time)."""
    from listener.store.cases import list_cases

    app = open_app(config_path, require_secrets=False)
    now = now_iso(app)
    name = _brand_named(app, brand) if brand else None
    for listed in list_cases(app.db, status=status, overdue_at=now if overdue else None, brand=name):
        case = listed.case
        late = "  OVERDUE" if case.status in ("open", "contacted") and case.due_at and case.due_at < now else ""
        due = local_time(case.due_at, _zone(app, case.brand))
        snippet = " ".join((listed.text or "").split())
        snippet = snippet if len(snippet) <= SNIPPET else snippet[:SNIPPET - 1] + "…"
        click.echo(f"#{case.id} {case.status:<9} due {due}{late}  {case.brand}  {listed.who or '?'}: "
                   f"\"{snippet}\"  owner {case.owner or '-'}")
    app.close()


@cases.command(name="show")
@click.argument("case_id", type=int)
@config_option()
@friendly
def cases_show(case_id: int, config_path: Path) -> None:
    """One case: what it is about, its notes and its history, in the brand's local time."""
    from listener.store.cases import history, labelled_text

    from ..cases import get_case

    app = open_app(config_path, require_secrets=False)
    case = get_case(app.db, case_id)
    zone = _zone(app, case.brand)
    click.echo(f"#{case.id} {case.status}  {case.brand}  owner {case.owner or '-'}  due {local_time(case.due_at, zone)}")
    text = labelled_text(app.db, case.kind, case.subject_id)
    click.echo(f"{case.kind} {case.subject_id}: {text.text if text else '(text no longer stored)'}")
    click.echo("history:")
    for event in history(app.db, case.id):
        detail = f": {event.detail}" if event.detail else ""
        click.echo(f"  {local_time(event.at, zone)}  {event.who or '-'}  {event.event}{detail}")
    click.echo("notes:" + ("" if case.notes else " none"))
    for line in (case.notes or "").splitlines():
        click.echo(f"  {line}")
    app.close()


SNIPPET = 60  # characters of the text on a `cases list` line


def _brand_named(app, name: str) -> str:
    """The configured brand this name means, whatever its case; an unknown one is an error naming
    the brands there are (a typo must not list nothing and look like good news)."""
    found = next((b.name for b in app.config.brands if b.name.casefold() == name.casefold()), None)
    if found is None:
        raise AscoltoError(f"--brand: no brand named {name!r}; the brands are "
                           + ", ".join(repr(b.name) for b in app.config.brands))
    return found


def _zone(app, brand: str):
    return (app.config.brand_by_name.get(brand) or app.config.brands[0]).zone


@cases.command(name="assign")
@click.argument("case_id", type=int)
@click.argument("owner")
@config_option()
@friendly
def cases_assign(case_id: int, owner: str, config_path: Path) -> None:
    """Give a case to someone."""
    from ..cases import assign

    app = open_app(config_path, require_secrets=False)
    _echo_case(assign(app.db, case_id, owner, now_iso(app)))
    app.close()


@cases.command(name="contacted")
@click.argument("case_id", type=int)
@config_option()
@friendly
def cases_contacted(case_id: int, config_path: Path) -> None:
    """Mark a case as contacted (the customer has been answered)."""
    from ..cases import move

    app = open_app(config_path, require_secrets=False)
    _echo_case(move(app.db, case_id, "contacted", now_iso(app)))
    app.close()


def _echo_case(case) -> None:
    click.echo(f"#{case.id} {case.status}  owner {case.owner or '-'}  due {case.due_at}")


@cases.command(name="note")
@click.argument("case_id", type=int)
@click.argument("text")
@config_option()
@click.option("--by", "author", default=lambda: os.environ.get("USER", "someone"), help="Who writes the note.")
@friendly
def cases_note(case_id: int, text: str, config_path: Path, author: str) -> None:
    """Add a note to a case (kept with its time and author)."""
    from ..cases import add_note

    app = open_app(config_path, require_secrets=False)
    case = add_note(app.db, case_id, text, author, now_iso(app))
    click.echo(f"#{case.id} {case.status}: {len(case.notes.splitlines())} notes")
    app.close()


@cases.command(name="close")
@click.argument("case_id", type=int)
@click.option("--status", type=click.Choice(["resolved", "lost", "dismissed"]), default="resolved",
              show_default=True, help="How it ended (dismissed: not a case after all).")
@config_option()
@friendly
def cases_close(case_id: int, status: str, config_path: Path) -> None:
    """Close a case as resolved (the customer is satisfied), lost, or dismissed."""
    from ..cases import move

    app = open_app(config_path, require_secrets=False)
    _echo_case(move(app.db, case_id, status, now_iso(app)))
    app.close()


COMMANDS = (cases,)
