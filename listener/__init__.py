"""The Ascolto bot: collectors, store, pipeline, alerts, scheduler and CLI."""
