"""Alerts: the outbox, the messages, and the channels that deliver them."""
