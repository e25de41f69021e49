"""The store: the one place SQL runs (Datasette's canned queries aside).

One module per group of tables, each taking the database first and holding its queries:
``database`` (connections, write transactions, migrations applied), ``schema`` and
``survey_schema`` (the two named sets of migrations), ``mentions`` (mentions and source cursors).
Rows cross module borders as records (dataclasses), not dicts.
"""
