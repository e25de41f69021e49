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
                      N_("Retrained on {texts} corrected texts from {people} people. Before and after, on the "
                         "shipped check set and your held-back corrections: {figures}.\n\nIf the alerts look "
                         "wrong from now on, go back with: ascolto sentiment use {previous}")),
    "model_refused": (N_("A retrain on your corrections was refused: version {version} would miss complaints"),
                      N_("Trained on {texts} corrected texts from {people} people ({top_share} of them from "
                         "{top_person}), it failed the shipped check set: {reason}. The alerts stay as they were "
                         "({active}). If many alerts were marked 'not a complaint' by mistake, the corrections "
                         "are listed in Datasette (table corrections).")),
    "alerts_quieter": (N_("Alerts fell to {after} of mentions after model {version} was adopted (before: {before})"),
                       N_("Since version {version} decides the alerts, {after} of {mentions} mentions raised an "
                          "alert, against {before} in the {days} days before it. If complaints are going unheard, "
                          "go back with: ascolto sentiment use {previous}")),
}
RESUMES = {"month": N_("next month"), "day": N_("tomorrow")}


def notice(key: str, **params) -> dict:
    """The details of a notice alert: which notice, and the facts its text is written from."""
    if key not in NOTICES:
        raise KeyError(f"no notice {key!r}")
    return {"notice": key, "params": params}
