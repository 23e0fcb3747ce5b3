"""the overview's longest-late walk in one index: ix_tickets_open_next_due (next_due_at, created_at, id) of open requests

The walk (services/insight/overview/actions.py) reads open requests in the
order of their next deadline, then filing time and id, and stops after the
five it shows. With only ix_tickets_next_due_at, requests sharing the
earliest deadline had to be read and sorted all together: 10,000 late
requests with one deadline cost 19.9 ms a page at a million tickets
(docs/dashboards.md, "The final code, realistic late set").

Revision ID: 0036_late_walk
Revises: 0035_centre_stats
Create Date: 2026-12-07 23:05:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0036_late_walk'
down_revision = '0035_centre_stats'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_tickets_open_next_due', 'tickets', ['next_due_at', 'created_at', 'id'], unique=False,
        postgresql_where=sa.text('is_open'), sqlite_where=sa.text('is_open'),
    )


def downgrade():
    op.drop_index('ix_tickets_open_next_due', table_name='tickets')
