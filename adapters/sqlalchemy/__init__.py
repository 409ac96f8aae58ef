"""PostgreSQL through SQLAlchemy 2 Core (async, psycopg 3)."""
