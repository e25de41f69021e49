"""Delivery channels of the alert outbox; email (SMTP) is the first."""
