"""Alembic environment: run by ProofStore on open, with the connection passed in
``config.attributes["connection"]``. Not meant to be driven by the alembic CLI."""

from alembic import context

from prover.store.schema import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables when needed.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
