"""Persistence: SQLAlchemy Core tables, Alembic migrations, and the blocking queries run off the loop."""
