"""a replay's heartbeat and attempts: a replay whose worker died is run again once, then failed

Revision ID: 0021_replay_heartbeat
Revises: 0020_i18ncat
Create Date: 2026-12-07 02:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021_replay_heartbeat'
down_revision = '0020_i18ncat'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sla_replays', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('sla_replays', schema=None) as batch_op:
        batch_op.drop_column('attempts')
        batch_op.drop_column('heartbeat_at')
