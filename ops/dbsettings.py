"""The database settings ops commands share with the API (the same ``DB_*`` variables)."""

from chalice_app.chalicelib.settings import DbSettings

__all__ = ["DbSettings"]
