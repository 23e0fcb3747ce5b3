"""the "now" counts kept once a minute: now_counts, now_escalations and now_count_runs

The overview, the centre dashboard and the wall display read the open
backlog, the requests late and at risk now and the unacknowledged
escalations from these rows, counted by a beat task every minute, instead
of counting them on every request (docs/dashboards.md, the "now" counts
kept); the overview lists its oldest unacknowledged escalations from
now_escalations. The row of now_count_runs is what each recount locks.

Revision ID: 0034_nowsnap
Revises: 0033_now_counts
Create Date: 2026-12-07 15:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0034_nowsnap'
down_revision = '0033_now_counts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'now_counts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('centre_id', sa.Integer(), nullable=False),
        sa.Column('category_id', sa.Integer(), nullable=False),
        sa.Column('priority', sa.String(length=16), nullable=False),
        sa.Column('assignee_id', sa.Integer(), nullable=True),
        sa.Column('backlog', sa.Integer(), nullable=False),
        sa.Column('late', sa.Integer(), nullable=False),
        sa.Column('at_risk', sa.Integer(), nullable=False),
        sa.Column('escalations', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_now_counts')),
    )
    op.create_table(
        'now_escalations',
        sa.Column('escalation_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('centre_id', sa.Integer(), nullable=False),
        sa.Column('category_id', sa.Integer(), nullable=False),
        sa.Column('priority', sa.String(length=16), nullable=False),
        sa.Column('assignee_id', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('escalation_id', name=op.f('pk_now_escalations')),
    )
    op.create_index('ix_now_escalations_created_at', 'now_escalations', ['created_at', 'escalation_id'])
    op.create_table(
        'now_count_runs',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('counted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('milliseconds', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_now_count_runs')),
    )


def downgrade():
    op.drop_table('now_count_runs')
    op.drop_table('now_escalations')
    op.drop_table('now_counts')
