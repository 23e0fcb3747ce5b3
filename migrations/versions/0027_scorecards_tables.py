"""scorecards: contractors, the technicians' daily summary, follow-up rules, honest closure counts

Revision ID: 0027_scorecards
Revises: 0026_roster
Create Date: 2026-12-07 05:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0027_scorecards'
down_revision = '0026_roster'
branch_labels = None
depends_on = None

_COUNTS = ('handled', 'response_met', 'response_breached', 'arrival_met', 'arrival_breached', 'resolution_met',
           'resolution_breached', 'reworked', 'auto_closed', 'rating_sum', 'rating_count', 'fu_reached',
           'fu_not_reached', 'fu_resolved', 'fu_escalated')


def upgrade():
    op.create_table('contractors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contractors')),
    sa.UniqueConstraint('code', name=op.f('uq_contractors_code'))
    )
    op.create_table('contractor_members',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('contractor_id', sa.Integer(), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contractor_id'], ['contractors.id'],
                            name=op.f('fk_contractor_members_contractor_id_contractors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_contractor_members_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_contractor_members'))
    )
    with op.batch_alter_table('contractor_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contractor_members_contractor_id'), ['contractor_id'], unique=False)
    op.create_table('daily_technician_stats',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=False),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS],
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_daily_technician_stats_centre_id_centres')),
    sa.ForeignKeyConstraint(['technician_id'], ['users.id'],
                            name=op.f('fk_daily_technician_stats_technician_id_users')),
    sa.PrimaryKeyConstraint('day', 'centre_id', 'technician_id', name=op.f('pk_daily_technician_stats'))
    )
    with op.batch_alter_table('daily_technician_stats', schema=None) as batch_op:
        batch_op.create_index('ix_daily_technician_stats_technician_day', ['technician_id', 'day'], unique=False)
    op.create_table('daily_technician_holds',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('seconds', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_daily_technician_holds_centre_id_centres')),
    sa.ForeignKeyConstraint(['technician_id'], ['users.id'],
                            name=op.f('fk_daily_technician_holds_technician_id_users')),
    sa.PrimaryKeyConstraint('day', 'centre_id', 'technician_id', 'reason', name=op.f('pk_daily_technician_holds'))
    )
    with op.batch_alter_table('daily_technician_holds', schema=None) as batch_op:
        batch_op.create_index('ix_daily_technician_holds_technician_day', ['technician_id', 'day'], unique=False)
    op.create_table('follow_up_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('share_percent', sa.Integer(), nullable=False),
    sa.Column('is_complaint', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('share_percent BETWEEN 0 AND 100', name=op.f('ck_follow_up_rules_share_range')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_follow_up_rules_category_id_categories'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_follow_up_rules_centre_id_centres'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_follow_up_rules_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_rules')),
    sa.UniqueConstraint('centre_id', 'category_id', name=op.f('uq_follow_up_rules_centre_id_category_id'))
    )
    with op.batch_alter_table('daily_stats', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_auto', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('closed_rated', sa.Integer(), server_default='0', nullable=False))
    # The new columns and tables are filled by the next refresh of every day:
    # mark them all (as `flask stats-rebuild` would).
    op.execute("INSERT INTO stats_dirty (day, centre_id, version) SELECT DISTINCT day, centre_id, 1 FROM daily_stats "
               "WHERE NOT EXISTS (SELECT 1 FROM stats_dirty d WHERE d.day = daily_stats.day "
               "AND d.centre_id = daily_stats.centre_id)")


def downgrade():
    with op.batch_alter_table('daily_stats', schema=None) as batch_op:
        batch_op.drop_column('closed_rated')
        batch_op.drop_column('closed_auto')
    op.drop_table('follow_up_rules')
    with op.batch_alter_table('daily_technician_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_daily_technician_holds_technician_day')
    op.drop_table('daily_technician_holds')
    with op.batch_alter_table('daily_technician_stats', schema=None) as batch_op:
        batch_op.drop_index('ix_daily_technician_stats_technician_day')
    op.drop_table('daily_technician_stats')
    with op.batch_alter_table('contractor_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contractor_members_contractor_id'))
    op.drop_table('contractor_members')
    op.drop_table('contractors')
