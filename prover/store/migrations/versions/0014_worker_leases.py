"""worker leases on a run's problems, and rows made by a model call unique on that call

Revision ID: 0014_worker_leases
Revises: 0005_informal (meta_verifications, and the indexes it replaces)

Proofs, verifications and meta-verifications made by a model call were found again by their call
but nothing stopped a second copy (two processes on one run, or a replay after a crash racing a
live writer). Their ``model_call_id`` becomes unique (rows without a call — imported ones — are
not concerned: NULLs are distinct). A database that already holds copies is not changed: the
upgrade stops and says which rows, since which copy to keep (children, labels, grades may point
at either) is not ours to guess.
"""
from alembic import op
import sqlalchemy as sa


revision = "0014_worker_leases"
down_revision = "0005_informal"
branch_labels = None
depends_on = None

_UNIQUE = (("proofs", "ix_proofs_model_call_id", "uq_proofs_model_call_id"),
           ("verifications", "ix_verifications_model_call_id", "uq_verifications_model_call_id"),
           ("meta_verifications", "ix_meta_verifications_model_call_id", "uq_meta_verifications_model_call_id"))


def _refuse_duplicates() -> None:
    from prover.core.errors import StoreError

    conn = op.get_bind()
    found = []
    for table, _, _ in _UNIQUE:
        rows = conn.execute(sa.text(
            f"SELECT model_call_id, COUNT(*) FROM {table} WHERE model_call_id IS NOT NULL "
            f"GROUP BY model_call_id HAVING COUNT(*) > 1 ORDER BY model_call_id")).all()
        if rows:
            ids = ", ".join(str(r[0]) for r in rows[:5]) + (" …" if len(rows) > 5 else "")
            found.append(f"{table}: {len(rows)} model call(s) with more than one row (model_call_id {ids})")
    if found:
        raise StoreError("cannot make rows unique on the model call that made them: " + "; ".join(found)
                         + ". Two processes wrote the same answers (an older prover ran twice on one run). "
                           "Keep one row per model_call_id (and repoint what refers to the others), then open "
                           "the database again.")


def upgrade() -> None:
    _refuse_duplicates()
    for table, old, new in _UNIQUE:
        op.drop_index(old, table_name=table)
        op.create_index(new, table, ["model_call_id"], unique=True)
    op.create_table(
        "problem_leases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["problem_id"], ["problems.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "problem_id", name="uq_problem_lease"),
    )
    op.create_index("ix_problem_leases_claim", "problem_leases", ["run_id", "status", "position"])
    op.create_index("ix_problem_leases_problem", "problem_leases", ["problem_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_problem_leases_problem", table_name="problem_leases")
    op.drop_index("ix_problem_leases_claim", table_name="problem_leases")
    op.drop_table("problem_leases")
    for table, old, new in _UNIQUE:
        op.drop_index(new, table_name=table)
        op.create_index(old, table, ["model_call_id"], unique=False)
