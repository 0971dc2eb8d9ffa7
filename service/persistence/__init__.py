"""Database access: tables, engine, repositories, outbox and inbox."""
