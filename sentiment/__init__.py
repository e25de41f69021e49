"""Sentiment scoring for Ascolto: models, batched scoring, labels, NPS arithmetic.

Nothing here imports the rest of Ascolto. The model stack (torch, transformers) is imported lazily,
so that NPS arithmetic and label handling stay cheap to import.
"""
