"""verified rectification items at 100 %; calendar days entered by administrators: calendar_entered_days

Revision ID: 0019_ledger
Revises: 0018_replay
Create Date: 2026-12-07 02:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019_ledger'
down_revision = '0018_replay'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_entered_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('calendar_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'],
                            name=op.f('fk_calendar_entered_days_calendar_id_calendars')),
    sa.ForeignKeyConstraint(['version_id'], ['calendar_versions.id'],
                            name=op.f('fk_calendar_entered_days_version_id_calendar_versions')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                            name=op.f('fk_calendar_entered_days_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_entered_days'))
    )
    with op.batch_alter_table('calendar_entered_days', schema=None) as batch_op:
        batch_op.create_index('ix_calendar_entered_days_calendar_id_day', ['calendar_id', 'day'], unique=False)
    # A verified item is done: it showed the last progress reported before (issue 15, item 8).
    op.execute("UPDATE rectification_items SET progress_percent = 100 WHERE status = 'verified'")


def downgrade():
    with op.batch_alter_table('calendar_entered_days', schema=None) as batch_op:
        batch_op.drop_index('ix_calendar_entered_days_calendar_id_day')
    op.drop_table('calendar_entered_days')
