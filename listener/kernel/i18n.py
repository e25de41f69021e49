"""The user-facing text of every page, email and chat message, in the team's or the customer's
language: gettext catalogues (Babel), one per language, in ``locale/<lang>/LC_MESSAGES/ascolto.po``.

English is the source language: a message's id is its English text, and the Italian catalogue
translates it. Code marks the texts it shows with ``N_`` (a table of texts, translated where it is
shown) or translates them on the spot with ``translations(lang).gettext``; templates call ``_``.
``tests/test_i18n.py`` extracts every marked text and fails on one the Italian catalogue lacks.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from functools import lru_cache
from io import BytesIO
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "ascolto"
LANGUAGES = ("it", "en")


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue without translating it: it is translated where it is shown."""
    return message


@lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang`` (read once per process); English, and a language without a catalogue,
    show the English source texts."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with po.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def localized(lang: str, texts: Mapping[str, str]) -> dict[str, str]:
    """A table of ``N_``-marked texts, each translated into ``lang``."""
    translate = translations(lang).gettext
    return {key: translate(text) for key, text in texts.items()}
