"""The Ascolto bot: sources, store, pipeline, alerts, reports, jobs and the CLI, in packages named for
what they hold (see the README, Development)."""
