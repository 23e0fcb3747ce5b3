"""dashboards at scale: indexes for the "now" figures, technicians' load and the summary's age

Revision ID: 0007_dashboards
Revises: 0006_refresh
Create Date: 2026-11-24 06:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_dashboards'
down_revision = '0006_refresh'
branch_labels = None
depends_on = None


def upgrade():
    # "At risk now" reads the running targets whose at-risk instant has
    # passed: a few, where probing every open ticket's targets took seconds
    # at a million tickets (docs/dashboards.md).
    with op.batch_alter_table('ticket_slas', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_slas_running_at_risk', ['at_risk_at'], unique=False, postgresql_where=sa.text("state = 'running'"), sqlite_where=sa.text("state = 'running'"))
    # "Awaiting confirmation" per centre, category and priority, and each
    # technician's open load, from the indexes alone.
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_awaiting_by_centre', ['centre_id', 'category_id', 'priority'], unique=False, postgresql_where=sa.text("status = 'resolved'"), sqlite_where=sa.text("status = 'resolved'"))
        batch_op.create_index('ix_tickets_open_by_assignee', ['centre_id', 'assignee_id', 'status', 'category_id', 'priority'], unique=False, postgresql_where=sa.text('is_open'), sqlite_where=sa.text('is_open'))
    # "Figures as of", on every dashboard page: max(refreshed_at) without a scan.
    with op.batch_alter_table('daily_stats', schema=None) as batch_op:
        batch_op.create_index('ix_daily_stats_refreshed_at', ['refreshed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('daily_stats', schema=None) as batch_op:
        batch_op.drop_index('ix_daily_stats_refreshed_at')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_open_by_assignee', postgresql_where=sa.text('is_open'), sqlite_where=sa.text('is_open'))
        batch_op.drop_index('ix_tickets_awaiting_by_centre', postgresql_where=sa.text("status = 'resolved'"), sqlite_where=sa.text("status = 'resolved'"))
    with op.batch_alter_table('ticket_slas', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_slas_running_at_risk', postgresql_where=sa.text("state = 'running'"), sqlite_where=sa.text("state = 'running'"))
