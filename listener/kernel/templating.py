"""Jinja2 templates, HTML auto-escaped (comments, names and mention texts are user input).

One environment per package that ships a ``templates`` folder: surveys' pages and emails here, and
listener's alert messages, which use the same style.
"""

from __future__ import annotations

from functools import lru_cache

import jinja2


@lru_cache(maxsize=None)
def environment(*packages: str) -> jinja2.Environment:
    """Templates of ``packages`` (first match wins; default surveys), so that another package's
    page can extend surveys' ``base.html``."""
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader(p, "templates") for p in packages or ("surveys",)]),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
