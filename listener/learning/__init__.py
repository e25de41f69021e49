"""The model learns from the team, safely: model versions, the nightly retrain on corrections and its
gate, near misses, and how well the alert rule does on labelled files."""
