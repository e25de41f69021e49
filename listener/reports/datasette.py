"""Opening the database in Datasette with Ascolto's metadata (titles, facets, canned queries)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from listener.kernel.errors import AscoltoError


def metadata_for(database: Path, metadata_file: Path) -> dict:
    """The metadata, keyed by this database's name (Datasette names a database after its file)."""
    import yaml

    try:
        metadata = yaml.safe_load(metadata_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AscoltoError(f"cannot read Datasette metadata {metadata_file}: {exc}") from None
    databases = metadata.get("databases", {})
    if len(databases) == 1:
        (written, described), = databases.items()
        name = Path(database).stem
        described = _with_query_links(described, name)
        # the file's links name the database as written; Datasette names it after the file
        described["description_html"] = described.get("description_html", "").replace(f"/{written}/", f"/{name}/")
        metadata["databases"] = {name: described}
    return metadata


def _with_query_links(described: dict, name: str) -> dict:
    """Every canned query listed, with a link, on the database's page (Datasette lists them below the
    tables, where nobody scrolls), and their SQL folded away: a marketer reads the answer, and the
    SQL is one click on "Show SQL" away."""
    from html import escape

    queries = described.get("queries", {})
    for query in queries.values():
        query.setdefault("hide_sql", True)
    items = "".join(f'<li><a href="/{name}/{key}">{escape(query.get("title", key))}</a></li>'
                    for key, query in queries.items())
    if items:
        described["description_html"] = described.get("description_html", "") + f"<p>Questions answered:</p><ul>{items}</ul>"
    return described


def write_metadata(database: Path, metadata_file: Path) -> Path:
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", prefix="ascolto-datasette-", delete=False)
    with handle:
        json.dump(metadata_for(database, metadata_file), handle)
    return Path(handle.name)
