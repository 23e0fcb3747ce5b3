"""the overview's "now" counts from indexes alone: ix_tickets_open_now, ix_ticket_slas_unmet_state, at risk

The late and at-risk counts (reports.now_counted) join each late or at-risk
id to its open ticket and probe each at-risk request's unmet targets: both
from covering partial indexes, not the tables; ix_ticket_slas_running_at_risk
holds due_at and ticket_id too, so the at-risk ids are read from it alone
(docs/dashboards.md, the overview's speed). The INCLUDE columns are
PostgreSQL's: on SQLite the indexes are the plain ones.

Revision ID: 0033_now_counts
Revises: 0032_overview
Create Date: 2026-12-07 12:55:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0033_now_counts'
down_revision = '0032_overview'
branch_labels = None
depends_on = None


def _at_risk(include):
    op.drop_index('ix_ticket_slas_running_at_risk', table_name='ticket_slas')
    op.create_index(
        'ix_ticket_slas_running_at_risk', 'ticket_slas', ['at_risk_at'], unique=False,
        postgresql_include=include,
        postgresql_where=sa.text("state = 'running'"), sqlite_where=sa.text("state = 'running'"),
    )


def upgrade():
    op.create_index(
        'ix_tickets_open_now', 'tickets', ['id'], unique=False,
        postgresql_include=['centre_id', 'category_id', 'assignee_id'],
        postgresql_where=sa.text('is_open'), sqlite_where=sa.text('is_open'),
    )
    op.create_index(
        'ix_ticket_slas_unmet_state', 'ticket_slas', ['ticket_id'], unique=False,
        postgresql_include=['state', 'due_at'],
        postgresql_where=sa.text('milestone_at IS NULL'), sqlite_where=sa.text('milestone_at IS NULL'),
    )
    _at_risk(['due_at', 'ticket_id'])


def downgrade():
    _at_risk([])
    op.drop_index('ix_ticket_slas_unmet_state', table_name='ticket_slas')
    op.drop_index('ix_tickets_open_now', table_name='tickets')
