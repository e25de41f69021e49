"""Answering customers from Ascolto: suggested replies, the reply page behind a signed link, and
sending a reply where the customer wrote (each platform's own API, or email for a survey answer)."""
