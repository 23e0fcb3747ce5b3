"""verified rectification items at 100 %

Revision ID: 0019_ledger
Revises: 0018_replay
Create Date: 2026-12-07 02:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019_ledger'
down_revision = '0018_replay'
branch_labels = None
depends_on = None


def upgrade():
    # A verified item is done: it showed the last progress reported before (issue 15, item 8).
    op.execute("UPDATE rectification_items SET progress_percent = 100 WHERE status = 'verified'")


def downgrade():
    pass
