"""rectification items: the ledger, its history, linked requests, deadline alerts; the hotspot index

Revision ID: 0007_rectification
Revises: 0006_refresh
Create Date: 2026-11-24 06:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_rectification'
down_revision = '0006_refresh'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rectification_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('source_ref', sa.String(length=200), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('responsible_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('at_risk_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('progress_percent', sa.Integer(), nullable=True),
    sa.Column('fix_summary', sa.Text(), nullable=False),
    sa.Column('rejection_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_rectification_items_category_id_categories')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_rectification_items_centre_id_centres')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_rectification_items_created_by_id_users')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_rectification_items_location_id_locations')),
    sa.ForeignKeyConstraint(['responsible_id'], ['users.id'], name=op.f('fk_rectification_items_responsible_id_users')),
    sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'], name=op.f('fk_rectification_items_verified_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_items')),
    sa.UniqueConstraint('reference', name=op.f('uq_rectification_items_reference'))
    )
    with op.batch_alter_table('rectification_items', schema=None) as batch_op:
        batch_op.create_index('ix_rectification_items_centre_status', ['centre_id', 'status'], unique=False)
        batch_op.create_index('ix_rectification_items_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_rectification_items_due_at', ['due_at'], unique=False)
        batch_op.create_index('ix_rectification_items_next_check_at', ['next_check_at'], unique=False, postgresql_where=sa.text('next_check_at IS NOT NULL'), sqlite_where=sa.text('next_check_at IS NOT NULL'))
        batch_op.create_index('ix_rectification_items_responsible_status', ['responsible_id', 'status'], unique=False)
        batch_op.create_index('ix_rectification_items_verified_at', ['verified_at'], unique=False)

    op.create_table('rectification_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['rectification_items.id'], name=op.f('fk_rectification_alerts_item_id_rectification_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_alerts')),
    sa.UniqueConstraint('item_id', 'kind', 'due_at', name=op.f('uq_rectification_alerts_item_id_kind_due_at'))
    )
    op.create_table('rectification_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('from_status', sa.String(length=32), nullable=True),
    sa.Column('to_status', sa.String(length=32), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_rectification_events_actor_id_users')),
    sa.ForeignKeyConstraint(['item_id'], ['rectification_items.id'], name=op.f('fk_rectification_events_item_id_rectification_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_events'))
    )
    with op.batch_alter_table('rectification_events', schema=None) as batch_op:
        batch_op.create_index('ix_rectification_events_item_id_id', ['item_id', 'id'], unique=False)
        batch_op.create_index('ix_rectification_events_kind_created', ['kind', 'created_at'], unique=False)

    op.create_table('rectification_item_tickets',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('linked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['rectification_items.id'], name=op.f('fk_rectification_item_tickets_item_id_rectification_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['linked_by_id'], ['users.id'], name=op.f('fk_rectification_item_tickets_linked_by_id_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_rectification_item_tickets_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('item_id', 'ticket_id', name=op.f('pk_rectification_item_tickets'))
    )
    with op.batch_alter_table('rectification_item_tickets', schema=None) as batch_op:
        batch_op.create_index('ix_rectification_item_tickets_ticket_id', ['ticket_id'], unique=False)

    # Repeat faults (hotspots): requests of one category at one place in a window.
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_location_category_created', ['location_id', 'category_id', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_location_category_created')

    with op.batch_alter_table('rectification_item_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_rectification_item_tickets_ticket_id')

    op.drop_table('rectification_item_tickets')
    with op.batch_alter_table('rectification_events', schema=None) as batch_op:
        batch_op.drop_index('ix_rectification_events_kind_created')
        batch_op.drop_index('ix_rectification_events_item_id_id')

    op.drop_table('rectification_events')
    op.drop_table('rectification_alerts')
    with op.batch_alter_table('rectification_items', schema=None) as batch_op:
        batch_op.drop_index('ix_rectification_items_verified_at')
        batch_op.drop_index('ix_rectification_items_responsible_status')
        batch_op.drop_index('ix_rectification_items_next_check_at', postgresql_where=sa.text('next_check_at IS NOT NULL'), sqlite_where=sa.text('next_check_at IS NOT NULL'))
        batch_op.drop_index('ix_rectification_items_due_at')
        batch_op.drop_index('ix_rectification_items_created_at')
        batch_op.drop_index('ix_rectification_items_centre_status')

    op.drop_table('rectification_items')
