"""an index for filing's rework read: tickets by place, category and resolution time

Revision ID: 0028_repeat_index
Revises: 0027_scorecards
Create Date: 2026-12-07 06:35:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0028_repeat_index'
down_revision = '0027_scorecards'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_tickets_place_category_resolved', 'tickets',
                    ['location_id', 'category_id', 'resolved_at'], unique=False)


def downgrade():
    op.drop_index('ix_tickets_place_category_resolved', table_name='tickets')
