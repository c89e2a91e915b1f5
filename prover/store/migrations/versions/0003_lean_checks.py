"""lean checks: one row per Lean check, definitive rows unique per cache key

Revision ID: 0003_lean_checks
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_lean_checks'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lean_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cache_key', sa.String(length=64), nullable=False),
    sa.Column('definitive', sa.Boolean(), nullable=False),
    sa.Column('file_hash', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=True),
    sa.Column('toolchain', sa.String(length=100), nullable=False),
    sa.Column('mathlib_rev', sa.String(length=100), nullable=True),
    sa.Column('repl_rev', sa.String(length=100), nullable=True),
    sa.Column('screen_rules_version', sa.Integer(), nullable=False),
    sa.Column('time_limit_s', sa.Float(), nullable=False),
    sa.Column('heartbeats', sa.Integer(), nullable=False),
    sa.Column('memory_mb', sa.Integer(), nullable=True),
    sa.Column('verdict', sa.String(length=40), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('axioms', sa.JSON(), nullable=True),
    sa.Column('wall_time_s', sa.Float(), nullable=True),
    sa.Column('peak_memory_mb', sa.Float(), nullable=True),
    sa.Column('backend', sa.String(length=50), nullable=False),
    sa.Column('assembled', sa.Text(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('formal_statement_id', sa.Integer(), nullable=True),
    sa.Column('proof_text', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['formal_statement_id'], ['formal_statements.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lean_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lean_checks_cache_key'), ['cache_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_lean_checks_file_hash'), ['file_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_lean_checks_formal_statement_id'), ['formal_statement_id'],
                              unique=False)
        batch_op.create_index('ix_lean_checks_verdict_screen', ['verdict', 'screen_rules_version'], unique=False)
        batch_op.create_index('uq_lean_checks_definitive_key', ['cache_key'], unique=True,
                              sqlite_where=sa.text('definitive = 1'), postgresql_where=sa.text('definitive'))


def downgrade() -> None:
    with op.batch_alter_table('lean_checks', schema=None) as batch_op:
        batch_op.drop_index('uq_lean_checks_definitive_key')
        batch_op.drop_index('ix_lean_checks_verdict_screen')
        batch_op.drop_index(batch_op.f('ix_lean_checks_formal_statement_id'))
        batch_op.drop_index(batch_op.f('ix_lean_checks_file_hash'))
        batch_op.drop_index(batch_op.f('ix_lean_checks_cache_key'))
    op.drop_table('lean_checks')
