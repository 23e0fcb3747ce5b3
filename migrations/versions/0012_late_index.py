"""index the targets that may be late now (no milestone, running or breached) by deadline

Revision ID: 0012_late_index
Revises: 0011_admin_events
Create Date: 2026-11-24 10:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_late_index'
down_revision = '0011_admin_events'
branch_labels = None
depends_on = None

PREDICATE = "milestone_at IS NULL AND state IN ('running', 'breached')"


def upgrade():
    with op.batch_alter_table('ticket_slas', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_slas_late', ['due_at', 'ticket_id'], unique=False,
                              postgresql_where=sa.text(PREDICATE), sqlite_where=sa.text(PREDICATE))


def downgrade():
    with op.batch_alter_table('ticket_slas', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_slas_late', postgresql_where=sa.text(PREDICATE),
                            sqlite_where=sa.text(PREDICATE))
