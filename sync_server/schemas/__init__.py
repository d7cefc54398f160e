"""Pydantic request/response models, one per role (Create / Public)."""
