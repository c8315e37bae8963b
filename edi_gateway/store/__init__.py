"""The store: SQLAlchemy tables, engine set-up and migrations."""
