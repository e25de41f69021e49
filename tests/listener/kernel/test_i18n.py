"""Every text a person sees is in the team's (or the customer's) language: the Italian catalogue
translates every text the code and the templates mark, with the same placeholders."""

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from helpers.paths import REPO
from listener.kernel.i18n import DOMAIN, LOCALE_DIR, localized, translations

METHODS = [("**/templates/**.html", "jinja2"), ("**/templates/**.txt", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def marked_texts() -> set[str]:
    found = set()
    for package in ("listener", "surveys"):
        for _file, _line, message, _comments, _context in extract_from_dir(
                REPO / package, METHODS, keywords=KEYWORDS,
                options_map={"**/templates/**": {"extensions": "jinja2.ext.i18n"}}):
            found.add(message if isinstance(message, str) else message[0])
    return found


def catalogue():
    with (LOCALE_DIR / "it" / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        return {m.id: m for m in read_po(handle, locale="it") if m.id}


def test_every_marked_text_has_an_italian_translation_with_the_same_placeholders():
    texts, italian = marked_texts(), catalogue()
    assert len(texts) > 50  # the extraction sees the code's texts
    untranslated = sorted(t for t in texts if t not in italian or not italian[t].string or italian[t].fuzzy)
    assert untranslated == []
    assert sorted(set(italian) - texts) == []  # nothing obsolete left in the catalogue
    mismatched = [t for t in texts if sorted(PLACEHOLDER.findall(t)) != sorted(PLACEHOLDER.findall(italian[t].string))]
    assert mismatched == []


def test_english_is_the_source_and_italian_is_translated():
    table = {"send": "Send"}
    assert localized("en", table) == {"send": "Send"} and localized("it", table) == {"send": "Invia"}
    assert translations("de").gettext("Send") == "Send"  # a language without a catalogue shows English
    assert Path(LOCALE_DIR, "it", "LC_MESSAGES", f"{DOMAIN}.po").is_file()
