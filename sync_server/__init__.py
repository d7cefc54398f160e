"""Smart Support sync server: FastAPI + SQLAlchemy Core, SQLite by default, PostgreSQL in production.

Self-contained: nothing here imports the desktop client (``app``).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
