"""statement compatibility: does each formal statement elaborate on the project toolchain

Revision ID: 0009_statement_compat
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0009_statement_compat"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statement_compat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("formal_statement_id", sa.Integer(), nullable=False),
        sa.Column("toolchain", sa.String(length=100), nullable=False),
        sa.Column("mathlib_rev", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("backend", sa.String(length=50), nullable=False),
        sa.Column("wall_time_s", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["formal_statement_id"], ["formal_statements.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("formal_statement_id", "toolchain", "mathlib_rev", name="uq_statement_compat"),
    )
    with op.batch_alter_table("statement_compat", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_statement_compat_formal_statement_id"), ["formal_statement_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("statement_compat", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_compat_formal_statement_id"))
    op.drop_table("statement_compat")
