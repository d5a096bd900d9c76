"""Alembic environment: migrations always run on a connection handed over by ``sessions.store.upgrade_schema``.

That function owns the transaction and the lock, so this file only configures the context. Running
``alembic`` from the command line is supported too (``-x url=...``), mainly to autogenerate revisions.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sessions.store import Base, _make_engine, normalize_url

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    engine = _make_engine(normalize_url(url), busy_timeout_s=30.0)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; give a database URL with -x url=...")
run_migrations_online()
