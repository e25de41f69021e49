"""The listener's tables, as registered migrations (sqlite-utils): each one applied once, in order,
under the write lock (``listener.store.database.migrate``). A change of schema is a new migration,
never an edit of one already released."""

from __future__ import annotations

import json

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("ascolto.listener")


@migrations()
def m001_mentions(db: sqlite_utils.Database) -> None:
    db["mentions"].create(
        {
            "id": str, "source": str, "native_id": str, "brand": str, "author": str, "url": str,
            "text": str, "lang": str, "created_at": str, "collected_at": str,
            "sentiment": str, "sentiment_score": float, "p_negative": float, "p_neutral": float,
            "p_positive": float, "model": str, "nps_class": str, "raw": str,
        },
        pk="id",
        not_null={"source", "native_id", "brand", "text", "created_at", "collected_at"},
    )
    for columns in (["brand", "created_at"], ["nps_class"], ["sentiment"]):
        db["mentions"].create_index(columns)
    db["mentions"].enable_fts(["text", "author"], create_triggers=True, tokenize="unicode61 remove_diacritics 2")


@migrations()
def m002_alerts(db: sqlite_utils.Database) -> None:
    # `subject` makes an alert unique: a mention id for a detractor, e.g. "x:budget:2026-11" for a notice.
    db["alerts"].create(
        {
            "id": int, "kind": str, "subject": str, "mention_id": str, "brand": str, "recipients": str,
            "details": str, "status": str, "attempts": int, "last_error": str, "next_attempt_at": str,
            "created_at": str, "sent_at": str, "message_id": str,
        },
        pk="id",
        not_null={"kind", "subject", "status", "attempts", "created_at"},
        defaults={"status": "pending", "attempts": 0},
        foreign_keys=[("mention_id", "mentions", "id")],
    )
    db["alerts"].create_index(["kind", "subject"], unique=True)
    db["alerts"].create_index(["status", "next_attempt_at"])


@migrations()
def m003_runs_and_cursors(db: sqlite_utils.Database) -> None:
    db["runs"].create(
        {
            "id": int, "job": str, "started_at": str, "finished_at": str, "status": str,
            "fetched": int, "new": int, "scored": int, "detractors": int, "skipped": int,
            "alerts_sent": int, "alerts_pending": int, "errors": int, "message": str,
        },
        pk="id",
        not_null={"job", "started_at", "status"},
    )
    db["runs"].create_index(["job", "started_at"])
    db["cursors"].create({"source": str, "query": str, "value": str, "updated_at": str}, pk=("source", "query"))


@migrations()
def m004_views(db: sqlite_utils.Database) -> None:
    db.create_view(
        "detractor_mentions",
        """select m.id, m.brand, m.source, m.author, m.text, m.url, m.created_at, m.sentiment_score,
                  a.status as alert_status, a.sent_at as alert_sent_at
           from mentions m left join alerts a on a.mention_id = m.id and a.kind = 'detractor_mention'
           where m.nps_class = 'detractor'""",
    )


@migrations()
def m005_cases(db: sqlite_utils.Database) -> None:
    # A detractor to follow up: a mention or a survey response. One case per subject.
    db["cases"].create(
        {"id": int, "kind": str, "subject_id": str, "brand": str, "owner": str, "status": str, "due_at": str,
         "notes": str, "created_at": str, "updated_at": str},
        pk="id", not_null={"kind", "subject_id", "brand", "status", "created_at"}, defaults={"status": "open"},
    )
    db["cases"].create_index(["kind", "subject_id"], unique=True)
    db["cases"].create_index(["status", "due_at"])


@migrations()
def m006_corrections(db: sqlite_utils.Database) -> None:
    # A person's sentiment label for a text the model got wrong: kept beside the model's, for training.
    db["corrections"].create(
        {"id": int, "kind": str, "subject_id": str, "text": str, "model_label": str, "label": str, "author": str,
         "created_at": str},
        pk="id", not_null={"kind", "subject_id", "text", "label", "created_at"},
    )
    db["corrections"].create_index(["kind", "subject_id"])


@migrations()
def m007_detector_and_ratings(db: sqlite_utils.Database) -> None:
    # p_unhappy: the detector's calibrated probability that the author is an unhappy customer;
    # alert_rule: why the mention alerted (detector, sentiment, rating); rating: stars, where a source has them.
    db["mentions"].add_column("p_unhappy", float)
    db["mentions"].add_column("alert_rule", str)
    db["mentions"].add_column("rating", int)


@migrations()
def m008_run_owners(db: sqlite_utils.Database) -> None:
    # Which process runs a job: a run still 'running' whose process is gone was interrupted.
    db["runs"].add_column("pid", int)
    db["runs"].add_column("host", str)


@migrations()
def m009_deliveries(db: sqlite_utils.Database) -> None:
    # An alert is the event; a delivery is its way to one target of one channel (an email address, or
    # an Apprise channel), with its own attempts, back-off and error: a failing channel or a refused
    # address never holds up another, and (alert, channel, target) is unique, so nothing goes twice.
    db["deliveries"].create(
        {"id": int, "alert_id": int, "channel": str, "target": str, "mode": str, "status": str, "attempts": int,
         "last_error": str, "next_attempt_at": str, "sent_at": str, "message_id": str, "bundle": str,
         "created_at": str},
        pk="id", not_null={"alert_id", "channel", "target", "mode", "status", "attempts", "next_attempt_at",
                           "created_at"},
        defaults={"status": "pending", "attempts": 0}, foreign_keys=[("alert_id", "alerts", "id")],
    )
    db["deliveries"].create_index(["alert_id", "channel", "target"], unique=True)
    db["deliveries"].create_index(["status", "next_attempt_at"])
    db["deliveries"].create_index(["channel", "target", "sent_at"])
    for alert in db.query("select * from alerts"):  # each recipient of an older alert: one email delivery
        for recipient in json.loads(alert["recipients"] or "[]"):
            db["deliveries"].insert({
                "alert_id": alert["id"], "channel": "email", "target": recipient, "mode": "immediate",
                "status": alert["status"], "attempts": alert["attempts"], "last_error": alert["last_error"],
                "next_attempt_at": alert["next_attempt_at"] or alert["created_at"], "sent_at": alert["sent_at"],
                "message_id": alert["message_id"], "bundle": "single", "created_at": alert["created_at"]})
    db.execute("drop view detractor_mentions")
    db.execute("drop index if exists idx_alerts_status_next_attempt_at")
    db["alerts"].transform(drop={"recipients", "status", "attempts", "last_error", "next_attempt_at", "sent_at",
                                 "message_id"})
    db.create_view("detractor_mentions", """
        select m.id, m.brand, m.source, m.author, m.text, m.url, m.created_at, m.p_unhappy, m.alert_rule,
               (select case when sum(d.status = 'pending') then 'pending' when sum(d.status = 'failed') then 'failed'
                            else 'sent' end from deliveries d where d.alert_id = a.id) as alert_status,
               (select max(d.sent_at) from deliveries d where d.alert_id = a.id) as alert_sent_at
        from mentions m left join alerts a on a.mention_id = m.id and a.kind = 'detractor_mention'
        where m.nps_class = 'detractor'""")


@migrations()
def m010_actions_and_feedback(db: sqlite_utils.Database) -> None:
    # A link in an alert acts once: its form's nonce is recorded when used, so a replay is refused.
    db["action_nonces"].create({"nonce": str, "delivery_id": int, "action": str, "used_at": str}, pk="nonce",
                               foreign_keys=[("delivery_id", "deliveries", "id")])
    # What a person said of a label: the sentiment (negative/neutral/positive) or the detector's
    # (unhappy/other), from the command line or a link in an alert.
    db["corrections"].add_column("task", str, not_null_default="sentiment")
    db["corrections"].add_column("via", str)


@migrations()
def m011_text_length(db: sqlite_utils.Database) -> None:
    # A text is stored up to [database] max_text_chars; its full length is kept here.
    db["mentions"].add_column("text_length", int)


@migrations()
def m012_model_versions(db: sqlite_utils.Database) -> None:
    # Versions of the model's heads: the one shipped, and those retrained on the team's corrections.
    # One is active; a refused retrain stays listed with its reason; mentions.model names the version.
    db["model_versions"].create(
        {"id": int, "name": str, "created_at": str, "parent": str, "head_file": str, "status": str,
         "corrections": int, "trained_on": str, "validation": str, "reason": str},
        pk="id", not_null={"name", "created_at", "head_file", "status"},
    )
    db["model_versions"].create_index(["name"], unique=True)
    # the threshold a mention was judged against: how near a miss it was
    db["mentions"].add_column("alert_threshold", float)


@migrations()
def m013_revisions_and_replies(db: sqlite_utils.Database) -> None:
    # revision: for posts that can be edited (X), the latest version stored; an edit updates the mention.
    # reply: the brand's own public answer, where the source has one (Google reviews).
    db["mentions"].add_column("revision", int)
    db["mentions"].add_column("reply", str)


@migrations()
def m014_themes(db: sqlite_utils.Database) -> None:
    # The embedding each text was scored with (float16), so that themes can be assigned again and
    # discovery can cluster without a second pass of the model. subject: "mention" or "response".
    db["text_embeddings"].create({"subject": str, "subject_id": str, "model": str, "vector": bytes},
                                 pk=("subject", "subject_id"))
    # The taxonomy in use (a copy of the configuration's, for queries), and each text's themes.
    db["themes"].create({"id": str, "name_it": str, "name_en": str, "description_it": str, "description_en": str,
                         "keywords": str, "brands": str, "taxonomy": str}, pk="id")
    for table, key, kind in (("mention_themes", "mention_id", str), ("response_themes", "response_id", int)):
        db[table].create({key: kind, "theme": str, "score": float, "similarity": float, "keyword": int,
                          "taxonomy": str}, pk=(key, "theme"))
        db[table].create_index(["theme"])
    # Candidate themes found by clustering the complaints that matched no theme.
    db["theme_candidates"].create(
        {"id": int, "brand": str, "found_at": str, "period_start": str, "period_end": str, "size": int,
         "words": str, "examples": str, "status": str}, pk="id", defaults={"status": "new"})


@migrations()
def m015_delivery_claims(db: sqlite_utils.Database) -> None:
    # A dispatcher claims the deliveries it is about to send, in a write transaction, until
    # claimed_until (a lease): several dispatchers never send one twice, and a crashed one's claim
    # runs out and is taken over.
    db["deliveries"].add_column("claimed_by", str)
    db["deliveries"].add_column("claimed_until", str)


@migrations()
def m016_case_history_and_link_uses(db: sqlite_utils.Database) -> None:
    # A case's history: who opened, took, contacted, replied, closed it, and when (one row each).
    db["case_events"].create({"id": int, "case_id": int, "at": str, "who": str, "event": str, "detail": str},
                             pk="id", not_null={"case_id", "at", "event"}, foreign_keys=[("case_id", "cases", "id")])
    db["case_events"].create_index(["case_id", "at"])
    # One case per customer per grouping window: every text a case is about (a mention, an answer).
    db["case_subjects"].create({"case_id": int, "kind": str, "subject_id": str}, pk=("kind", "subject_id"),
                               foreign_keys=[("case_id", "cases", "id")])
    db["case_subjects"].create_index(["case_id"])
    db.execute("insert into case_subjects (case_id, kind, subject_id) select id, kind, subject_id from cases")
    db.execute("insert into case_events (case_id, at, who, event) select id, created_at, 'ascolto', 'opened' "
               "from cases")
    # Who the case is about (a mention's author on its platform, a customer), to find their open case.
    db["cases"].add_column("person", str)
    db["cases"].create_index(["brand", "person", "status"])
    # An action link works once: (delivery, action) is used at most once, whatever form is posted to it.
    db["action_uses"].create({"delivery_id": int, "action": str, "used_at": str, "used_by": str},
                             pk=("delivery_id", "action"), foreign_keys=[("delivery_id", "deliveries", "id")])
    # The form nonces it replaces: a link used before the upgrade stays used.
    db.execute("insert or ignore into action_uses (delivery_id, action, used_at, used_by) "
               "select delivery_id, action, min(used_at), '' from action_nonces group by delivery_id, action")
    db["action_nonces"].drop()


@migrations()
def m017_why_a_delivery_waits(db: sqlite_utils.Database) -> None:
    # Why the last dispatch did not send a pending delivery (quiet hours, the hourly cap, the grouping
    # window, a digest): what `ascolto alerts list` tells a team that wonders where an alert is.
    db["deliveries"].add_column("held", str)


@migrations()
def m018_replies(db: sqlite_utils.Database) -> None:
    # Each answer a person sent a customer from Ascolto: where, what, by whom, and what the platform
    # said. ``key`` is the reply form's own: a form posted twice (a double click, a replayed POST)
    # finds its reply already there and sends nothing.
    db["replies"].create({"id": int, "key": str, "case_id": int, "kind": str, "subject_id": str, "brand": str,
                          "channel": str, "text": str, "who": str, "created_at": str, "sent_at": str, "status": str,
                          "platform_id": str, "error": str},
                         pk="id", not_null={"key", "kind", "subject_id", "channel", "text", "created_at", "status"})
    db["replies"].create_index(["key"], unique=True)
    db["replies"].create_index(["case_id"])
    db["replies"].create_index(["brand", "created_at"])


@migrations()
def m019_readable_views(db: sqlite_utils.Database) -> None:
    # What a marketer opens first in Datasette: the words first, no raw JSON, no 16-decimal floats.
    db.create_view("readable_mentions", """
        select m.text, m.brand, m.source, m.author, m.url, m.created_at, m.lang, m.sentiment,
               round(m.p_unhappy, 2) as p_unhappy, m.alert_rule is not null as alerted, m.nps_class, m.id
        from mentions m""")
    # Every unhappy customer still waiting, with who they are, what they said and where.
    db.create_view("open_cases_readable", """
        select k.id as case_id, k.brand, k.status, k.owner, k.due_at, coalesce(m.author, c.name, c.email) as who,
               coalesce(m.text, r.comment) as text, m.url, coalesce(m.source, 'survey') as source,
               r.score, k.created_at
        from cases k
        left join mentions m on k.kind = 'mention' and m.id = k.subject_id
        left join survey_responses r on k.kind = 'response' and r.id = k.subject_id
        left join customers c on c.id = r.customer_id
        where k.status in ('open', 'contacted')""")
