"""Jinja2 templates, the one way Ascolto renders HTML (and its plain-text emails): HTML auto-escaped
(comments, names and mention texts are user input), the texts people read translated through the
gettext catalogue of the page's language (``listener.kernel.i18n``).

One environment per language and set of packages that ship a ``templates`` folder; the kernel's own
``base.html`` is the page every other page extends.
"""

from __future__ import annotations

from functools import lru_cache

import jinja2

from .i18n import translations


@lru_cache(maxsize=None)
def environment(lang: str = "en", *packages: str) -> jinja2.Environment:
    """Templates of ``packages`` (first match wins; default surveys), then the kernel's, in ``lang``."""
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader(p, "templates") for p in (*(packages or ("surveys",)),
                                                                                   "listener.kernel")]),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(lang), newstyle=True)
    return env


def render(template: str, lang: str = "en", **context) -> str:
    return environment(lang).get_template(template).render(lang=lang, **context)
