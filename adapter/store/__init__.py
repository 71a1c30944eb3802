"""Durable stores of the adapter (layout.md: one store interface, SQLite and PostgreSQL)."""
