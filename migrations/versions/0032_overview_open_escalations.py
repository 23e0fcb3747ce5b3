"""the overview's unacknowledged escalations: only those of open requests (escalations.request_open)

The index held every escalation nobody acknowledged, including those whose
request closed since: history, which grows with it (docs/dashboards.md, the
overview's speed). ``request_open`` copies the request's ``is_open`` (kept by
the SLA clocks whenever it changes); the index now holds only the open ones.

Revision ID: 0032_overview
Revises: 0031_clock
Create Date: 2026-12-07 11:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0032_overview'
down_revision = '0031_clock'
branch_labels = None
depends_on = None

BEFORE = "acknowledged_at IS NULL"
AFTER = "acknowledged_at IS NULL AND request_open"


def upgrade():
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_open', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.execute("UPDATE escalations SET request_open = false WHERE ticket_id IN (SELECT id FROM tickets WHERE NOT is_open)")
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index('ix_escalations_unacknowledged', postgresql_where=sa.text(BEFORE),
                            sqlite_where=sa.text(BEFORE))
        batch_op.create_index('ix_escalations_unacknowledged', ['ticket_id'], unique=False,
                              postgresql_where=sa.text(AFTER), sqlite_where=sa.text(AFTER))


def downgrade():
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index('ix_escalations_unacknowledged', postgresql_where=sa.text(AFTER),
                            sqlite_where=sa.text(AFTER))
        batch_op.create_index('ix_escalations_unacknowledged', ['ticket_id'], unique=False,
                              postgresql_where=sa.text(BEFORE), sqlite_where=sa.text(BEFORE))
        batch_op.drop_column('request_open')
