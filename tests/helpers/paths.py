"""Where things are: the repository, its example config, the recorded fixtures, ../shared."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
EXAMPLE_CONFIG = REPO / "config" / "ascolto.example.toml"
FIXTURE_DIR = REPO / "tests" / "fixtures"


def fixture_json(*parts: str) -> dict:
    return json.loads((FIXTURE_DIR.joinpath(*parts)).read_text(encoding="utf-8"))
