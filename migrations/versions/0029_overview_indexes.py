"""the overview's things to act on: unacknowledged escalations, open low-rating follow-ups

Without them the overview counted every escalation ever made (595,000 at a
million tickets) to find the few not acknowledged.

Revision ID: 0029_overview
Revises: 0028_repeat_index
Create Date: 2026-12-07 05:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0029_overview'
down_revision = '0028_repeat_index'
branch_labels = None
depends_on = None

UNACKNOWLEDGED = "acknowledged_at IS NULL"
OPEN_LOW_RATING = "status = 'open' AND kind = 'low_rating'"


def upgrade():
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.create_index('ix_escalations_unacknowledged', ['ticket_id'], unique=False,
                              postgresql_where=sa.text(UNACKNOWLEDGED), sqlite_where=sa.text(UNACKNOWLEDGED))
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index('ix_follow_ups_open_low_rating', ['created_at'], unique=False,
                              postgresql_where=sa.text(OPEN_LOW_RATING), sqlite_where=sa.text(OPEN_LOW_RATING))


def downgrade():
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_ups_open_low_rating', postgresql_where=sa.text(OPEN_LOW_RATING),
                            sqlite_where=sa.text(OPEN_LOW_RATING))
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index('ix_escalations_unacknowledged', postgresql_where=sa.text(UNACKNOWLEDGED),
                            sqlite_where=sa.text(UNACKNOWLEDGED))
