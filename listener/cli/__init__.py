"""The `ascolto` command: one module per command group, assembled in ``main``; shared options in ``common``."""
