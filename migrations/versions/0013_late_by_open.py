"""read "breached now" from the open requests: running targets by deadline, unmet breaches of open requests

Replaces ix_ticket_slas_late, which also held every breached target of a
cancelled or closed request (46,000 at a million tickets), read on every
dashboard.

Revision ID: 0013_late_by_open
Revises: 0012_late_index
Create Date: 2026-11-24 13:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_late_by_open'
down_revision = '0012_late_index'
branch_labels = None
depends_on = None

OLD = "milestone_at IS NULL AND state IN ('running', 'breached')"
RUNNING = "milestone_at IS NULL AND state = 'running'"
BREACHED = "milestone_at IS NULL AND state = 'breached'"
OPEN_BREACHED = "is_open AND is_sla_breached"


def upgrade():
    with op.batch_alter_table('ticket_slas', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_slas_late', postgresql_where=sa.text(OLD), sqlite_where=sa.text(OLD))
        batch_op.create_index('ix_ticket_slas_running_due', ['due_at', 'ticket_id'], unique=False,
                              postgresql_where=sa.text(RUNNING), sqlite_where=sa.text(RUNNING))
        batch_op.create_index('ix_ticket_slas_breached_unmet', ['ticket_id'], unique=False,
                              postgresql_where=sa.text(BREACHED), sqlite_where=sa.text(BREACHED))
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_open_breached', ['id'], unique=False,
                              postgresql_where=sa.text(OPEN_BREACHED), sqlite_where=sa.text(OPEN_BREACHED))


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_open_breached', postgresql_where=sa.text(OPEN_BREACHED),
                            sqlite_where=sa.text(OPEN_BREACHED))
    with op.batch_alter_table('ticket_slas', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_slas_breached_unmet', postgresql_where=sa.text(BREACHED),
                            sqlite_where=sa.text(BREACHED))
        batch_op.drop_index('ix_ticket_slas_running_due', postgresql_where=sa.text(RUNNING),
                            sqlite_where=sa.text(RUNNING))
        batch_op.create_index('ix_ticket_slas_late', ['due_at', 'ticket_id'], unique=False,
                              postgresql_where=sa.text(OLD), sqlite_where=sa.text(OLD))
