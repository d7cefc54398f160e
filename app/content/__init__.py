"""Intake of e-mails, logs and PDFs; entity extraction. Pure Python: no Qt, no SQL."""
