"""The kernel: what every package of Ascolto stands on, with nothing of theirs in it.

- ``times``: UTC timestamps as the database holds them, and the one read of the real clock;
- ``hours``: local days and quiet hours in a brand's time zone;
- ``textfiles``: files in any encoding a shop's export tool writes, and header-safe text;
- ``templating``: Jinja templates and the one way HTML is rendered;
- ``i18n``: the user-facing text of every page, email and chat message, per language (gettext);
- ``signing``: signed, expiring link tokens (itsdangerous);
- ``secrets``: secrets from the environment, named when missing;
- ``delivery``: why a message could not be delivered (try later, or never);
- ``errors``: the failures a person can fix, which the CLI prints as one line.

``surveys`` and every part of ``listener`` import it; it imports nothing else of ours.
"""
