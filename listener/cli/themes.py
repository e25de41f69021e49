"""`ascolto themes`: the themes in use and how well they are assigned."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from .common import config_option, friendly, open_app


@click.group()
def themes() -> None:
    """Themes: list them, and measure their assignment on a labelled file."""


@themes.command(name="list")
@config_option()
@friendly
def themes_list(config_path: Path) -> None:
    """The themes in use, with their names and keywords."""
    app = open_app(config_path)
    for theme in app.config.themes:
        brands = f"  (only {', '.join(theme.brands)})" if theme.brands else ""
        click.echo(f"{theme.id}: {theme.label('it')} / {theme.label('en')}{brands}")
        click.echo(f"    keywords: {', '.join(theme.keywords) or '-'}")
    app.close()


@themes.command(name="evaluate")
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option()
@click.option("--choose-on", "choose_on", help="Choose the threshold on this split (e.g. dev), report the others.")
@friendly
def themes_evaluate(labelled: Path, config_path: Path, choose_on: str | None) -> None:
    """Macro-F1 of theme assignment per theme and language on a labelled JSONL file (text, lang, themes, split)."""
    from ..themes.evaluation import choose_threshold, evaluate, read_labelled
    from ..themes.matching import ThemeMatcher

    app = open_app(config_path)
    rows = read_labelled(labelled)
    embeddings = [s.embedding for s in app.scorer.score([r.text for r in rows])]
    matcher = app.theme_matcher
    if choose_on:
        chosen = [i for i, r in enumerate(rows) if r.split == choose_on]
        threshold, f1 = choose_threshold(matcher, [rows[i] for i in chosen], [embeddings[i] for i in chosen])
        click.echo(f"threshold {threshold:.2f} (macro-F1 {f1:.3f} on {choose_on}, {len(chosen)} texts)")
        matcher = ThemeMatcher(matcher.taxonomy, replace(matcher.settings, threshold=threshold), matcher.prototypes)
    for split in sorted({r.split for r in rows}):
        keep = [i for i, r in enumerate(rows) if r.split == split]
        result = evaluate(matcher, [rows[i] for i in keep], [embeddings[i] for i in keep])
        languages = ", ".join(f"{lang} {f1:.3f}" for lang, f1 in result.per_language.items())
        click.echo(f"{split or 'all'}: macro-F1 {result.macro_f1:.3f} on {result.texts} texts ({languages})")
        for theme, (f1, precision, recall, support) in result.per_theme.items():
            click.echo(f"    {theme:<18} F1 {f1:.3f}  P {precision:.3f}  R {recall:.3f}  ({support} texts)")
    app.close()


COMMANDS = [themes]
