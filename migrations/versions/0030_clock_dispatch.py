"""the dispatch target (filed -> assigned): its daily counters

Revision ID: 0030_clock
Revises: 0029_overview
Create Date: 2026-12-07 05:20:00

Adds ``daily_stats.dispatch_met`` and ``dispatch_breached`` (0 for every
existing row: nothing measured dispatch before). Existing policy versions
are left as they are, so no policy gains a dispatch target: it is set per
policy from the admin SLA pages, as a new version (issue 17).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0030_clock'
down_revision = '0029_overview'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('daily_stats', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatch_met', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('dispatch_breached', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('daily_stats', schema=None) as batch_op:
        batch_op.drop_column('dispatch_breached')
        batch_op.drop_column('dispatch_met')
