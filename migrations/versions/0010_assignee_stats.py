"""the technicians' daily summary: resolved, on time and late per assignee

Revision ID: 0010_assignee_stats
Revises: 0009_merge
Create Date: 2026-11-24 09:30:00

Every (day, centre) the daily summary holds is marked for a refresh: until
the workers have recounted them, the technicians' table reads the tickets
as before (reports.figures_by_assignee checks the marks).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_assignee_stats'
down_revision = '0009_merge'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('daily_assignee_stats',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('resolved', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.Column('late', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_daily_assignee_stats_assignee_id_users')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_daily_assignee_stats_category_id_categories')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_daily_assignee_stats_centre_id_centres')),
    sa.PrimaryKeyConstraint('day', 'centre_id', 'assignee_id', 'category_id', 'priority', name=op.f('pk_daily_assignee_stats'))
    )
    with op.batch_alter_table('daily_assignee_stats', schema=None) as batch_op:
        batch_op.create_index('ix_daily_assignee_stats_centre_day', ['centre_id', 'day'], unique=False)
    # Recount every summarised day: the new table starts empty.
    op.execute(
        "INSERT INTO stats_dirty (day, centre_id, version) "
        "SELECT DISTINCT day, centre_id, 1 FROM daily_stats WHERE true "
        "ON CONFLICT (day, centre_id) DO UPDATE SET version = stats_dirty.version + 1"
    )


def downgrade():
    with op.batch_alter_table('daily_assignee_stats', schema=None) as batch_op:
        batch_op.drop_index('ix_daily_assignee_stats_centre_day')
    op.drop_table('daily_assignee_stats')
