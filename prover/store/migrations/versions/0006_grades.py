"""grades: external (human or automatic) grades of proofs

Revision ID: 0006_grades
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0006_grades"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proof_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("raw", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=True),
        sa.Column("human", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["proof_id"], ["proofs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("proof_id", "name", name="uq_grade_proof_name"),
    )
    with op.batch_alter_table("grades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grades_proof_id"), ["proof_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grades_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_grades_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("grades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grades_run_id"))
        batch_op.drop_index(batch_op.f("ix_grades_name"))
        batch_op.drop_index(batch_op.f("ix_grades_proof_id"))
    op.drop_table("grades")
