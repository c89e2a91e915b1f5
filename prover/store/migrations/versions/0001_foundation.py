"""foundation: problems, formal statements, runs, model calls, proofs, verifications

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('problems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('collection', sa.String(length=200), nullable=False),
    sa.Column('external_id', sa.String(length=300), nullable=False),
    sa.Column('statement_hash', sa.String(length=64), nullable=False),
    sa.Column('informal_statement', sa.Text(), nullable=True),
    sa.Column('reference_answer', sa.Text(), nullable=True),
    sa.Column('reference_solution', sa.Text(), nullable=True),
    sa.Column('grading_guidelines', sa.Text(), nullable=True),
    sa.Column('split', sa.String(length=50), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('collection', 'external_id', 'statement_hash', name='uq_problem_key')
    )
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_problems_collection'), ['collection'], unique=False)
        batch_op.create_index(batch_op.f('ix_problems_external_id'), ['external_id'], unique=False)

    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('run_key', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('command', sa.JSON(), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=True),
    sa.Column('reveals_reference', sa.Boolean(), nullable=False),
    sa.Column('prover_version', sa.String(length=50), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_run_key'), ['run_key'], unique=False)

    op.create_table('formal_statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=False),
    sa.Column('toolchain', sa.String(length=100), nullable=False),
    sa.Column('preamble', sa.Text(), nullable=False),
    sa.Column('answer_slots', sa.Text(), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('reference_answer_lean', sa.Text(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['problem_id'], ['problems.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('problem_id', 'toolchain', 'content_hash', name='uq_formal_key')
    )
    with op.batch_alter_table('formal_statements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_formal_statements_problem_id'), ['problem_id'], unique=False)

    op.create_table('model_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_key', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=50), nullable=False),
    sa.Column('backend', sa.String(length=50), nullable=False),
    sa.Column('model', sa.String(length=300), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('transient', sa.Boolean(), nullable=False),
    sa.Column('response_text', sa.Text(), nullable=True),
    sa.Column('reasoning_text', sa.Text(), nullable=True),
    sa.Column('finish_reason', sa.String(length=50), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=True),
    sa.Column('completion_tokens', sa.Integer(), nullable=True),
    sa.Column('latency_s', sa.Float(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('call_key')
    )
    with op.batch_alter_table('model_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_calls_run_id'), ['run_id'], unique=False)

    op.create_table('proofs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('model_call_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=50), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('sample_index', sa.Integer(), nullable=False),
    sa.Column('parent_ids', sa.JSON(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('self_evaluation', sa.Text(), nullable=True),
    sa.Column('self_score', sa.Float(), nullable=True),
    sa.Column('parse_status', sa.String(length=30), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answer_match', sa.Boolean(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_call_id'], ['model_calls.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['problem_id'], ['problems.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('proofs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proofs_problem_id'), ['problem_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_proofs_run_id'), ['run_id'], unique=False)

    op.create_table('verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proof_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('model_call_id', sa.Integer(), nullable=True),
    sa.Column('verifier_model', sa.String(length=300), nullable=True),
    sa.Column('sample_index', sa.Integer(), nullable=False),
    sa.Column('analysis', sa.Text(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('parse_status', sa.String(length=30), nullable=False),
    sa.Column('issues', sa.JSON(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_call_id'], ['model_calls.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['proof_id'], ['proofs.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.create_index('ix_verifications_proof', ['proof_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_verifications_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verifications_run_id'))
        batch_op.drop_index('ix_verifications_proof')

    op.drop_table('verifications')
    with op.batch_alter_table('proofs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proofs_run_id'))
        batch_op.drop_index(batch_op.f('ix_proofs_problem_id'))

    op.drop_table('proofs')
    with op.batch_alter_table('model_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_calls_run_id'))

    op.drop_table('model_calls')
    with op.batch_alter_table('formal_statements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_formal_statements_problem_id'))

    op.drop_table('formal_statements')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_run_key'))

    op.drop_table('runs')
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_problems_external_id'))
        batch_op.drop_index(batch_op.f('ix_problems_collection'))

    op.drop_table('problems')
