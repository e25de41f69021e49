"""The registry: every source type and the module that implements it.

Configuration reading, client creation, the collect job, the scheduler and the CLI ask here; an
unknown type is one configuration error that lists the known ones. A test checks that every module
registered here keeps the contract of ``listener.sources.base``.
"""

from __future__ import annotations

import dataclasses
import inspect
from types import ModuleType

from . import appstore, bluesky, feeds, files, google_reviews, googleplay, mastodon, reddit, x, youtube
from .base import SourceSettings

SOURCES: dict[str, ModuleType] = {module.TYPE: module for module in (
    files, x, reddit, feeds, bluesky, mastodon, youtube, appstore, googleplay, google_reviews)}

# What every source module exports (listener.sources.base describes each).
CONTRACT = ("TYPE", "LABEL", "Settings", "make_client", "queries", "fetch", "item_to_row", "Cursor", "expected_items")


def source_module(kind: str) -> ModuleType:
    return SOURCES[kind]


def contract_problems(module: ModuleType) -> list[str]:
    """What a source module lacks of the contract (empty when it keeps it all)."""
    problems = [f"no {name}" for name in CONTRACT if not hasattr(module, name)]
    if problems:
        return problems
    settings = module.Settings
    if not (dataclasses.is_dataclass(settings) and issubclass(settings, SourceSettings)):
        problems.append("Settings is not a SourceSettings dataclass")
    elif settings.kind != module.TYPE:
        problems.append(f"Settings.kind is {settings.kind!r}, not {module.TYPE!r}")
    signatures = {"fetch": ["client", "settings", "query", "cursor", "sleep"],
                  "item_to_row": ["item", "query", "brands", "collected_at"],
                  "queries": ["settings", "brands"], "expected_items": ["settings", "brands"],
                  "make_client": ["settings"]}
    for name, parameters in signatures.items():
        if list(inspect.signature(getattr(module, name)).parameters) != parameters:
            problems.append(f"{name} does not take ({', '.join(parameters)})")
    if not (callable(getattr(module.Cursor, "load", None)) and callable(getattr(module.Cursor, "dump", None))):
        problems.append("Cursor lacks load or dump")
    return problems
