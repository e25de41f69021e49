"""Operational notices: what Ascolto tells the team about itself (a budget spent, a model version
adopted or unusable, alerts falling silent), queued with their facts and written, when they are sent,
in the team's language."""

from __future__ import annotations

from listener.kernel.i18n import N_

NOTICES = {
    "budget": (N_("{label} read budget for {period} spent: collection from {label} is paused"),
               N_("Source {source} has read {spent} {unit} in {period}; its {setting} is {limit}. Collection from "
                  "{label} resumes {resumes}, or raise the budget in the configuration.")),
    "credits": (N_("X credits spent: X is paused for a day"),
                N_("X answered 402 Payment Required: the account's credits are spent. Ascolto asks X again in a "
                   "day; add credits in the X developer portal to resume sooner.")),
    "model_broken": (N_("Model version {version} is unusable: the shipped model scores instead"),
                     N_("{problem}\n\nAscolto scores with the shipped model until another version is chosen "
                        "(ascolto sentiment history; ascolto sentiment use NAME).")),
    "model_adopted": (N_("The model learned from your corrections: version {version} now decides the alerts"),
                      N_("Retrained on {texts} corrected texts from {people} people. On the shipped checks and "
                         "your held-back corrections: {figures}.\n\nIf the alerts look wrong from now on, go "
                         "back with: ascolto sentiment use {previous}")),
    "alerts_quieter": (N_("Alerts fell to {after} a day after model {version} was adopted (before: {before})"),
                       N_("Since version {version} decides the alerts, {after} alerts a day went out against {before} "
                          "a day before it. If complaints are going unheard, go back with: ascolto sentiment use "
                          "{previous}")),
}
RESUMES = {"month": N_("next month"), "day": N_("tomorrow")}


def notice(key: str, **params) -> dict:
    """The details of a notice alert: which notice, and the facts its text is written from."""
    if key not in NOTICES:
        raise KeyError(f"no notice {key!r}")
    return {"notice": key, "params": params}
