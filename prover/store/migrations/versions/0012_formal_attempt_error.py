"""formal attempts: the traceback of an attempt that ended in an unexpected exception

Revision ID: 0012_formal_attempt_error
Revises: 0010_formal
"""
from alembic import op
import sqlalchemy as sa


revision = "0012_formal_attempt_error"
down_revision = "0010_formal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("formal_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("formal_attempts", schema=None) as batch_op:
        batch_op.drop_column("error")
