"""evaluations: one row per `prover eval` of a benchmark (settings, per-problem outcomes)

Revision ID: 0013_evaluations
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0013_evaluations"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("eval_key", sa.String(length=64), nullable=False),
        sa.Column("benchmark", sa.String(length=100), nullable=False),
        sa.Column("split", sa.String(length=50), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("budget", sa.String(length=50), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evaluations_eval_key"), ["eval_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_evaluations_benchmark"), ["benchmark"], unique=False)


def downgrade() -> None:
    op.drop_table("evaluations")
