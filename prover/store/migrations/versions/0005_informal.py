"""informal engine: searches, meta-verifications; proofs and verifications found by model call

Revision ID: 0005_informal
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0005_informal"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "informal_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("search_key", sa.String(length=64), nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("proofs", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("selected_proof_id", sa.Integer(), nullable=True),
        sa.Column("mean_score", sa.Float(), nullable=True),
        sa.Column("self_score", sa.Float(), nullable=True),
        sa.Column("verifications", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answer_match", sa.Boolean(), nullable=True),
        sa.Column("label", sa.Float(), nullable=True),
        sa.Column("label_detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["problem_id"], ["problems.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["selected_proof_id"], ["proofs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("search_key"),
    )
    with op.batch_alter_table("informal_searches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_informal_searches_problem_id"), ["problem_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_informal_searches_run_id"), ["run_id"], unique=False)

    op.create_table(
        "meta_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("verification_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("model_call_id", sa.Integer(), nullable=True),
        sa.Column("meta_verifier_model", sa.String(length=300), nullable=True),
        sa.Column("sample_index", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("parse_status", sa.String(length=30), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["verification_id"], ["verifications.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["model_call_id"], ["model_calls.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("meta_verifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meta_verifications_verification_id"), ["verification_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meta_verifications_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meta_verifications_model_call_id"), ["model_call_id"], unique=False)

    op.create_index("ix_proofs_model_call_id", "proofs", ["model_call_id"], unique=False)
    op.create_index("ix_verifications_model_call_id", "verifications", ["model_call_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_verifications_model_call_id", table_name="verifications")
    op.drop_index("ix_proofs_model_call_id", table_name="proofs")
    op.drop_table("meta_verifications")
    op.drop_table("informal_searches")
