"""notifications.send_started_at: a claim expired with a send started was cut off mid-send

Committed just before each send and cleared with its outcome, so that the
worker taking over an expired claim knows the notice may have arrived and
does not post it twice to a group robot (docs/workers.md, "Delivery
guarantees").

Revision ID: 0016_delivery
Revises: 0015_auth
Create Date: 2026-12-06 23:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_delivery'
down_revision = '0015_auth'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications') as batch_op:
        batch_op.add_column(sa.Column('send_started_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('notifications') as batch_op:
        batch_op.drop_column('send_started_at')
