"""The manual LLM workflow: templates, redaction, prompt building, answer parsing,
clipboard. Nothing here sends anything anywhere. Pure Python: no Qt, no SQL."""
