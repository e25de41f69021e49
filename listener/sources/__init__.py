"""Where mentions come from: one module per source type behind one contract (``base``), gathered in
``registry``. Adding a source is one module, one registry line, its recorded-HTTP tests, a config
example and a README row."""
