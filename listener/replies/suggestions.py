"""Suggested replies: templates per brand, language and theme, with placeholders filled in.

The shipped ones (``suggested.toml``, the retail themes in Italian and English) hold unless the
configuration has its own ``[[replies]]``. For a text, the templates of its themes come first, then
the general ones (no theme), in the brand's language; one written for the brand beats one for every
brand. A suggestion is only a draft: the page shows it in an editable box, and a person sends it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from listener.settings import setting

SHIPPED = Path(__file__).with_name("suggested.toml")
PLACEHOLDERS = ("customer", "order", "brand", "agent")


def _text_problem(value) -> str | None:
    try:
        value.format(**{name: "" for name in PLACEHOLDERS})
    except (KeyError, IndexError, ValueError) as exc:
        return f"unknown placeholder or stray brace ({exc}); use {{customer}}, {{order}}, {{brand}}, {{agent}}"
    return None


@dataclass(frozen=True, kw_only=True)
class Template:
    """One ``[[replies]]`` table."""

    text: str = setting(check=_text_problem)
    lang: str = setting("it")
    theme: str = setting("")  # a theme id; empty: any text
    brand: str = setting("")  # empty: every brand


def shipped() -> tuple[Template, ...]:
    data = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    return tuple(Template(**row) for row in data["replies"])


def suggestions(templates: Sequence[Template], *, brand: str, lang: str, themes: Sequence[str],
                customer: str | None, order: str | None, agent: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` drafts for a text of ``brand`` with ``themes``, in ``lang`` (else English)."""
    def fits(t: Template, language: str) -> bool:
        return t.lang == language and t.brand in ("", brand) and (not t.theme or t.theme in themes)

    language = lang if any(fits(t, lang) for t in templates) else "en"
    chosen = sorted((t for t in templates if fits(t, language)),
                    key=lambda t: (not t.theme, t.theme not in themes[:1], not t.brand))
    values = {"customer": customer or "", "order": f" ({order})" if order else "", "brand": brand, "agent": agent}
    drafts = []
    for template in chosen:
        # Without a name (a first visit, before the person gave theirs) the signature is the brand alone.
        wording = template.text if agent else template.text.replace("{agent}, ", "").replace("{agent} ", "")
        text = " ".join(wording.format(**values).replace(" ,", ",").split())
        if text not in drafts:
            drafts.append(text)
    return drafts[:limit]
