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
        metadata["databases"] = {Path(database).stem: next(iter(databases.values()))}
    return metadata


def write_metadata(database: Path, metadata_file: Path) -> Path:
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", prefix="ascolto-datasette-", delete=False)
    with handle:
        json.dump(metadata_for(database, metadata_file), handle)
    return Path(handle.name)
