"""Survey tables, as registered migrations. Functions here take the database; they never open it."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("ascolto.surveys")


@migrations()
def m001_customers_and_orders(db: sqlite_utils.Database) -> None:
    db["customers"].create(
        {"id": int, "email": str, "name": str, "lang": str, "legal_basis": str, "unsubscribed_at": str,
         "last_surveyed_at": str, "created_at": str, "updated_at": str},
        pk="id", not_null={"email", "lang", "created_at"},
    )
    db["customers"].create_index(["email"], unique=True)
    db["orders"].create(
        {"order_ref": str, "brand": str, "customer_id": int, "purchased_at": str, "received_at": str,
         "channel": str},
        pk="order_ref", not_null={"brand", "customer_id", "purchased_at", "received_at"},
        foreign_keys=[("customer_id", "customers", "id")],
    )
    db["orders"].create_index(["purchased_at"])


@migrations()
def m002_invitations(db: sqlite_utils.Database) -> None:
    # public_id is random: the links reveal nothing about volumes; tokens are signed over it.
    db["survey_invitations"].create(
        {"id": int, "public_id": str, "customer_id": int, "order_ref": str, "brand": str, "lang": str,
         "status": str, "created_at": str, "sent_at": str, "reminded_at": str, "opened_at": str,
         "opened_score": int, "expires_at": str, "attempts": int, "last_error": str},
        pk="id", not_null={"public_id", "customer_id", "order_ref", "brand", "lang", "status", "created_at",
                           "expires_at", "attempts"},
        defaults={"attempts": 0},
        foreign_keys=[("customer_id", "customers", "id"), ("order_ref", "orders", "order_ref")],
    )
    db["survey_invitations"].create_index(["public_id"], unique=True)
    db["survey_invitations"].create_index(["order_ref"], unique=True)  # one survey per order at most
    db["survey_invitations"].create_index(["status", "sent_at"])
    db["survey_form_tokens"].create(
        {"nonce": str, "invitation_id": int, "used_at": str}, pk="nonce",
        foreign_keys=[("invitation_id", "survey_invitations", "id")],
    )


@migrations()
def m003_responses(db: sqlite_utils.Database) -> None:
    db.execute("""
        create table survey_responses (
            id integer primary key,
            invitation_id integer unique references survey_invitations(id),
            customer_id integer references customers(id),
            brand text not null,
            score integer not null check (score between 0 and 10),
            nps_class text not null,
            comment text,
            channel text not null,
            external_id text unique,
            answered_at text not null,
            updated_at text,
            sentiment text,
            sentiment_score real,
            p_negative real,
            p_neutral real,
            p_positive real,
            model text,
            review_candidate integer not null default 0,
            scored_at text
        )""")
    db["survey_responses"].create_index(["brand", "answered_at"])
    db["survey_responses"].enable_fts(["comment"], create_triggers=True, tokenize="unicode61 remove_diacritics 2")


@migrations()
def m004_invitation_claims(db: sqlite_utils.Database) -> None:
    # A survey sender claims an invitation (or reminder) before it mails it, as dispatchers claim
    # deliveries: two senders at once never invite a customer twice.
    db["survey_invitations"].add_column("claimed_by", str)
    db["survey_invitations"].add_column("claimed_until", str)


@migrations()
def m005_imported_answer_orders(db: sqlite_utils.Database) -> None:
    # The order an answer imported from another survey tool is about (an invited one has it through
    # its invitation): a detractor's alert names it.
    db["survey_responses"].add_column("order_ref", str)
