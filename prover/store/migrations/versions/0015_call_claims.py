"""claims on model calls being sent by a worker (``call_claims``)

Revision ID: 0015_call_claims
Revises: 0014_worker_leases (workers and their leases)

Two workers reaching the same model call at once (statement-level formal calls shared by problems
with the same formal statement, or any identically keyed call) sent it twice. A worker now claims
a call before sending it; the others wait for the stored answer, or take the claim over once it
expires (its holder died).
"""
from alembic import op
import sqlalchemy as sa


revision = "0015_call_claims"
down_revision = "0014_worker_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_claims",
        sa.Column("call_key", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call_key"),
    )


def downgrade() -> None:
    op.drop_table("call_claims")
