"""materials catalogue, stock ledger, paid repairs' quotes and charges; chargeable categories and places

Revision ID: 0024_materials
Revises: 0023_display
Create Date: 2026-12-07 05:30:00

"""
import sqlalchemy as sa
from alembic import op

import tracker.models.types

# revision identifiers, used by Alembic.
revision = '0024_materials'
down_revision = '0023_display'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_chargeable', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_chargeable', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table('materials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('unit_cost_fen', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('low_stock_threshold', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', tracker.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_materials_stock_not_negative')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_materials_centre_id_centres')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_materials')),
    sa.UniqueConstraint('centre_id', 'code', name=op.f('uq_materials_centre_id_code'))
    )
    with op.batch_alter_table('materials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_materials_centre_id'), ['centre_id'], unique=False)

    op.create_table('repair_quotes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('labour_fen', sa.Integer(), nullable=False),
    sa.Column('materials_fen', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('quoted_by_id', sa.Integer(), nullable=False),
    sa.Column('quoted_at', tracker.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', tracker.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_repair_quotes_decided_by_id_users')),
    sa.ForeignKeyConstraint(['quoted_by_id'], ['users.id'], name=op.f('fk_repair_quotes_quoted_by_id_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_repair_quotes_ticket_id_tickets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repair_quotes'))
    )
    with op.batch_alter_table('repair_quotes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repair_quotes_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('repair_charges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('quote_id', sa.Integer(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', tracker.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_repair_charges_centre_id_centres')),
    sa.ForeignKeyConstraint(['quote_id'], ['repair_quotes.id'], name=op.f('fk_repair_charges_quote_id_repair_quotes')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_repair_charges_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_repair_charges_requester_id_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_repair_charges_ticket_id_tickets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repair_charges')),
    sa.UniqueConstraint('ticket_id', name=op.f('uq_repair_charges_ticket_id'))
    )
    with op.batch_alter_table('repair_charges', schema=None) as batch_op:
        batch_op.create_index('ix_repair_charges_centre_recorded', ['centre_id', 'recorded_at'], unique=False)

    op.create_table('stock_movements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('material_id', sa.Integer(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('stock_after', sa.Integer(), nullable=False),
    sa.Column('unit_cost_fen', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_at', tracker.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_stock_movements_actor_id_users')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_stock_movements_centre_id_centres')),
    sa.ForeignKeyConstraint(['material_id'], ['materials.id'], name=op.f('fk_stock_movements_material_id_materials')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_stock_movements_ticket_id_tickets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_movements'))
    )
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.create_index('ix_stock_movements_centre_created', ['centre_id', 'created_at'], unique=False)
        batch_op.create_index('ix_stock_movements_material_id_id', ['material_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_movements_ticket_id'), ['ticket_id'], unique=False)


def downgrade():
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_movements_ticket_id'))
        batch_op.drop_index('ix_stock_movements_material_id_id')
        batch_op.drop_index('ix_stock_movements_centre_created')
    op.drop_table('stock_movements')
    with op.batch_alter_table('repair_charges', schema=None) as batch_op:
        batch_op.drop_index('ix_repair_charges_centre_recorded')
    op.drop_table('repair_charges')
    with op.batch_alter_table('repair_quotes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repair_quotes_ticket_id'))
    op.drop_table('repair_quotes')
    with op.batch_alter_table('materials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_materials_centre_id'))
    op.drop_table('materials')
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_column('is_chargeable')
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_column('is_chargeable')
