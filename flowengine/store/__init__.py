"""Persistence: SQLite by default, PostgreSQL for several engine nodes."""
