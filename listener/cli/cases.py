"""`ascolto cases ...`: follow every detractor to the end."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .common import config_option, friendly, now_iso, open_app


@click.group()
def cases() -> None:
    """Follow-up cases: every detractor, from open to resolved or lost."""


@cases.command(name="list")
@config_option()
@click.option("--status", type=click.Choice(["open", "contacted", "resolved", "lost"]), help="Only this status.")
@click.option("--overdue", is_flag=True, help="Only open or contacted cases past their due time.")
@click.option("--brand", help="Only this brand.")
@friendly
def cases_list(config_path: Path, status: str | None, overdue: bool, brand: str | None) -> None:
    """List cases, soonest due first."""
    from listener.store.cases import list_cases

    app = open_app(config_path)
    now = now_iso(app)
    for case in list_cases(app.db, status=status, overdue_at=now if overdue else None, brand=brand):
        late = "  OVERDUE" if case.status in ("open", "contacted") and case.due_at < now else ""
        click.echo(f"#{case.id} {case.status:<9} due {case.due_at}{late}  {case.brand}  "
                   f"{case.kind} {case.subject_id}  owner {case.owner or '-'}")
    app.close()


@cases.command(name="assign")
@click.argument("case_id", type=int)
@click.argument("owner")
@config_option()
@friendly
def cases_assign(case_id: int, owner: str, config_path: Path) -> None:
    """Give a case to someone."""
    from ..cases import assign

    app = open_app(config_path)
    _echo_case(assign(app.db, case_id, owner, now_iso(app)))
    app.close()


@cases.command(name="contacted")
@click.argument("case_id", type=int)
@config_option()
@friendly
def cases_contacted(case_id: int, config_path: Path) -> None:
    """Mark a case as contacted (the customer has been answered)."""
    from ..cases import move

    app = open_app(config_path)
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

    app = open_app(config_path)
    case = add_note(app.db, case_id, text, author, now_iso(app))
    click.echo(f"#{case.id} {case.status}: {len(case.notes.splitlines())} notes")
    app.close()


@cases.command(name="close")
@click.argument("case_id", type=int)
@click.option("--status", type=click.Choice(["resolved", "lost"]), default="resolved", show_default=True,
              help="How it ended.")
@config_option()
@friendly
def cases_close(case_id: int, status: str, config_path: Path) -> None:
    """Close a case as resolved (the customer is satisfied) or lost."""
    from ..cases import move

    app = open_app(config_path)
    _echo_case(move(app.db, case_id, status, now_iso(app)))
    app.close()


COMMANDS = (cases,)
