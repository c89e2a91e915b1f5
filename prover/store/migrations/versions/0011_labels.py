"""labels: one label per (proof, source, policy version)

Revision ID: 0011_labels
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0011_labels"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proof_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("policy_version", sa.String(length=200), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["proof_id"], ["proofs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("proof_id", "source", "policy_version", name="uq_label_proof_source_policy"),
    )
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_labels_proof_id"), ["proof_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_labels_source"), ["source"], unique=False)
        batch_op.create_index(batch_op.f("ix_labels_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_labels_run_id"))
        batch_op.drop_index(batch_op.f("ix_labels_source"))
        batch_op.drop_index(batch_op.f("ix_labels_proof_id"))
    op.drop_table("labels")
