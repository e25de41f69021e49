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


def worker(kind: str, config: Path):
    """``python -m helpers.workers KIND CONFIG`` in its own process. The repository comes first on its
    path: tests/listener, tests/surveys and tests/sentiment (the tests, mirroring the packages) must
    not shadow the packages themselves."""
    import os
    import subprocess
    import sys

    path = os.pathsep.join([str(REPO), str(REPO / "tests")])
    return subprocess.Popen([sys.executable, "-m", "helpers.workers", kind, str(config)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": path}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
