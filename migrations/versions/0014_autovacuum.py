"""vacuum tickets and their targets after 2 % of their rows change, not 20 %: keep index-only scans index-only

The dashboards count the backlog, the requests awaiting confirmation and the
late ones from partial indexes alone (index-only scans). Those read the
table too for every page the visibility map does not mark all-visible, and
only VACUUM marks it. PostgreSQL's default waits for 20 % of a table to
change (200,000 rows at a million tickets); one sweep flagging 10,000 late
requests left enough pages unmarked to double the cost of those counts.
PostgreSQL only; nothing to do on SQLite.

Revision ID: 0014_autovacuum
Revises: 0013_late_by_open
Create Date: 2026-11-24 13:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014_autovacuum'
down_revision = '0013_late_by_open'
branch_labels = None
depends_on = None

TABLES = ('tickets', 'ticket_slas')
SETTINGS = 'autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02'


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TABLES:
        op.execute(f'ALTER TABLE {table} SET ({SETTINGS})')


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TABLES:
        op.execute(f'ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor)')
