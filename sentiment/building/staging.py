"""Building a model artefact (a folder or a file) so that nobody ever sees half of it.

Each build writes into its own staging folder beside the target (a unique name, so two processes
building at once never delete each other's work) and is renamed into place when complete; if
another process finished first, its artefact is as good as ours and ours is dropped. An interrupted
build leaves only a hidden staging folder, removed on the way out.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def build_atomically(target: Path, build: Callable[[Path], None]) -> Path:
    """``build(path)`` writes the artefact at ``path`` (a folder or a file named like ``target``)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the cache is meant to be shared
    try:
        built = staging / target.name
        build(built)
        if not target.exists():
            try:
                os.replace(built, target)
            except OSError:  # a folder another process renamed into place meanwhile
                if not target.exists():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
