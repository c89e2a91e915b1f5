"""formal stage: attempts, statement gates, votes, sketches, steps (the lemma DAG), Lean tries,
refutations, formal feedback

Revision ID: 0010_formal
Revises: 0003_lean_checks
"""
from alembic import op
import sqlalchemy as sa


revision = "0010_formal"
# Formal rows point at Lean checks: this revision follows theirs.
down_revision = "0003_lean_checks"
branch_labels = None
depends_on = None

TABLES = ("formal_feedback", "formal_refutations", "formal_tries", "formal_votes", "formal_steps", "formal_sketches",
          "formal_attempts", "formal_gates")


def upgrade() -> None:
    op.create_table(
        "formal_gates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gate_key", sa.String(length=64), nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("proof_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sample_index", sa.Integer(), nullable=False),
        sa.Column("call_key", sa.String(length=64), nullable=True),
        sa.Column("candidate", sa.Text(), nullable=True),
        sa.Column("formal_statement_id", sa.Integer(), nullable=True),
        sa.Column("elaborates", sa.Boolean(), nullable=True),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("back_translation", sa.Text(), nullable=True),
        sa.Column("back_translation_call_key", sa.String(length=64), nullable=True),
        sa.Column("votes_yes", sa.Integer(), nullable=False),
        sa.Column("votes_total", sa.Integer(), nullable=False),
        sa.Column("votes_needed", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("trivially_closed", sa.Boolean(), nullable=True),
        sa.Column("trivial_tactic", sa.String(length=50), nullable=True),
        sa.Column("answer_copied", sa.Boolean(), nullable=True),
        sa.Column("swapped_answer", sa.Text(), nullable=True),
        sa.Column("swapped_trivially_closed", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["formal_statement_id"], ["formal_statements.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["problem_id"], ["problems.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["proof_id"], ["proofs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_formal_gates_gate_key", "formal_gates", ['gate_key'], unique=False)
    op.create_index("ix_formal_gates_problem_id", "formal_gates", ['problem_id'], unique=False)

    op.create_table(
        "formal_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_key", sa.String(length=64), nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("proof_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("population", sa.String(length=20), nullable=False),
        sa.Column("inclusion_probability", sa.Float(), nullable=True),
        sa.Column("formal_statement_id", sa.Integer(), nullable=True),
        sa.Column("statement_source", sa.String(length=20), nullable=True),
        sa.Column("statement_trusted", sa.Boolean(), nullable=False),
        sa.Column("gate_id", sa.Integer(), nullable=True),
        sa.Column("statement_faithful", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("root_closed_independently", sa.Boolean(), nullable=False),
        sa.Column("root_closed_by", sa.String(length=100), nullable=True),
        sa.Column("direct_check_id", sa.Integer(), nullable=True),
        sa.Column("sketch_id", sa.Integer(), nullable=True),
        sa.Column("nodes", sa.Integer(), nullable=False),
        sa.Column("nodes_solved", sa.Integer(), nullable=False),
        sa.Column("nodes_refuted", sa.Integer(), nullable=False),
        sa.Column("nodes_unsolved", sa.Integer(), nullable=False),
        sa.Column("steps_aligned", sa.Boolean(), nullable=True),
        sa.Column("repairs", sa.Integer(), nullable=False),
        sa.Column("final_check_id", sa.Integer(), nullable=True),
        sa.Column("final_verdict", sa.String(length=40), nullable=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["direct_check_id"], ["lean_checks.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["final_check_id"], ["lean_checks.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["formal_statement_id"], ["formal_statements.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["gate_id"], ["formal_gates.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["problem_id"], ["problems.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["proof_id"], ["proofs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint('attempt_key'),
    )
    op.create_index("ix_formal_attempts_problem_id", "formal_attempts", ['problem_id'], unique=False)
    op.create_index("ix_formal_attempts_proof_id", "formal_attempts", ['proof_id'], unique=False)
    op.create_index("ix_formal_attempts_run_id", "formal_attempts", ['run_id'], unique=False)

    op.create_table(
        "formal_sketches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("sample_index", sa.Integer(), nullable=False),
        sa.Column("repair_of", sa.Integer(), nullable=True),
        sa.Column("call_key", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("nl_steps", sa.JSON(), nullable=False),
        sa.Column("elaborates", sa.Boolean(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("dag", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["formal_attempts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_formal_sketches_attempt_id", "formal_sketches", ['attempt_id'], unique=False)

    op.create_table(
        "formal_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("sketch_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("node_key", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("nl_step_index", sa.Integer(), nullable=True),
        sa.Column("nl_step", sa.Text(), nullable=True),
        sa.Column("type_text", sa.Text(), nullable=True),
        sa.Column("statement", sa.Text(), nullable=True),
        sa.Column("memo_key", sa.String(length=64), nullable=True),
        sa.Column("context_source", sa.String(length=20), nullable=True),
        sa.Column("hole", sa.Boolean(), nullable=False),
        sa.Column("depends_on", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("solved_by", sa.String(length=100), nullable=True),
        sa.Column("proof_text", sa.Text(), nullable=True),
        sa.Column("aux", sa.JSON(), nullable=False),
        sa.Column("uses_steps", sa.JSON(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=True),
        sa.Column("aligned", sa.Boolean(), nullable=True),
        sa.Column("back_translation", sa.Text(), nullable=True),
        sa.Column("back_translation_call_key", sa.String(length=64), nullable=True),
        sa.Column("votes_yes", sa.Integer(), nullable=False),
        sa.Column("votes_total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["formal_attempts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["check_id"], ["lean_checks.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["sketch_id"], ["formal_sketches.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_formal_steps_attempt_id", "formal_steps", ['attempt_id'], unique=False)
    op.create_index("ix_formal_steps_memo_key", "formal_steps", ['memo_key'], unique=False)
    op.create_index("ix_formal_steps_sketch_id", "formal_steps", ['sketch_id'], unique=False)

    op.create_table(
        "formal_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("gate_id", sa.Integer(), nullable=True),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("sample_index", sa.Integer(), nullable=False),
        sa.Column("call_key", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("vote", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["gate_id"], ["formal_gates.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["step_id"], ["formal_steps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_formal_votes_gate_id", "formal_votes", ['gate_id'], unique=False)
    op.create_index("ix_formal_votes_step_id", "formal_votes", ['step_id'], unique=False)

    op.create_table(
        "formal_tries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("negated", sa.Boolean(), nullable=False),
        sa.Column("sample_index", sa.Integer(), nullable=False),
        sa.Column("repair_index", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("tactic", sa.String(length=200), nullable=True),
        sa.Column("call_key", sa.String(length=64), nullable=True),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("check_id", sa.Integer(), nullable=True),
        sa.Column("verdict", sa.String(length=40), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["formal_attempts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["check_id"], ["lean_checks.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["step_id"], ["formal_steps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_formal_tries_attempt_id", "formal_tries", ['attempt_id'], unique=False)
    op.create_index("ix_formal_tries_step_id", "formal_tries", ['step_id'], unique=False)

    op.create_table(
        "formal_refutations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("proof_id", sa.Integer(), nullable=True),
        sa.Column("what", sa.String(length=20), nullable=False),
        sa.Column("proposition", sa.Text(), nullable=False),
        sa.Column("try_id", sa.Integer(), nullable=True),
        sa.Column("check_id", sa.Integer(), nullable=True),
        sa.Column("formal_statement_id", sa.Integer(), nullable=True),
        sa.Column("statement_given", sa.Boolean(), nullable=False),
        sa.Column("faithful", sa.Boolean(), nullable=True),
        sa.Column("flags_statement", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["formal_attempts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["check_id"], ["lean_checks.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["formal_statement_id"], ["formal_statements.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["problem_id"], ["problems.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["proof_id"], ["proofs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["step_id"], ["formal_steps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["try_id"], ["formal_tries.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_formal_refutations_attempt_id", "formal_refutations", ['attempt_id'], unique=False)
    op.create_index("ix_formal_refutations_problem_id", "formal_refutations", ['problem_id'], unique=False)
    op.create_index("ix_formal_refutations_proof_id", "formal_refutations", ['proof_id'], unique=False)

    op.create_table(
        "formal_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("proof_id", sa.Integer(), nullable=True),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("nl_step_index", sa.Integer(), nullable=True),
        sa.Column("nl_step", sa.Text(), nullable=True),
        sa.Column("statement", sa.Text(), nullable=True),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["formal_attempts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["problem_id"], ["problems.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["proof_id"], ["proofs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["step_id"], ["formal_steps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_formal_feedback_attempt_id", "formal_feedback", ['attempt_id'], unique=False)
    op.create_index("ix_formal_feedback_problem_id", "formal_feedback", ['problem_id'], unique=False)
    op.create_index("ix_formal_feedback_proof_id", "formal_feedback", ['proof_id'], unique=False)


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
