"""Business rules that need no database: pure Python, no Flask or SQLAlchemy."""
