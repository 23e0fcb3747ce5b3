"""daily_centre_stats: daily_stats summed per local day and centre, for the overview

The overview's period figures, sparklines and standards comparison read
it when no category or priority is chosen (docs/dashboards.md, "A summary
per day and centre"). Filled here from daily_stats; the refresh keeps it
with daily_stats from then on.

Revision ID: 0035_centre_stats
Revises: 0034_nowsnap
Create Date: 2026-12-07 22:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0035_centre_stats'
down_revision = '0034_nowsnap'
branch_labels = None
depends_on = None

# daily_stats' counters as of this revision (tracker.models.stats.SUMMED_COLUMNS).
COLUMNS = (
    'received', 'resolved', 'closed', 'cancelled',
    'dispatch_met', 'dispatch_breached', 'response_met', 'response_breached',
    'arrival_met', 'arrival_breached', 'resolution_met', 'resolution_breached',
    'confirmation_met', 'confirmation_breached',
    'rating_sum', 'rating_count', 'closed_auto', 'closed_rated',
)

DEFAULTED = ('dispatch_met', 'dispatch_breached', 'closed_auto', 'closed_rated')


def upgrade():
    op.create_table(
        'daily_centre_stats',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('centre_id', sa.Integer(), nullable=False),
        # As daily_stats' (tracker.models.stats.DayCounters): the later counters default to 0 in the database too.
        *(sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text('0') if name in DEFAULTED else None)
          for name in COLUMNS),
        sa.PrimaryKeyConstraint('day', 'centre_id', name=op.f('pk_daily_centre_stats')),
    )
    names = ', '.join(COLUMNS)
    sums = ', '.join(f'coalesce(sum({name}), 0)' for name in COLUMNS)
    op.execute(
        f'INSERT INTO daily_centre_stats (day, centre_id, {names}) '
        f'SELECT day, centre_id, {sums} FROM daily_stats GROUP BY day, centre_id'
    )


def downgrade():
    op.drop_table('daily_centre_stats')
