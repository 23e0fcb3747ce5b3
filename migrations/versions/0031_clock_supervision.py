"""supervision orders (督办) on requests and rectification items: supervision_orders

Revision ID: 0031_clock
Revises: 0030_clock
Create Date: 2026-12-07 05:35:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0031_clock'
down_revision = '0030_clock'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('supervision_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('instruction', sa.Text(), nullable=False),
    sa.Column('responsible_id', sa.Integer(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('close_note', sa.Text(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_supervision_orders_answered_by_id_users')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_supervision_orders_centre_id_centres')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_supervision_orders_closed_by_id_users')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_supervision_orders_issued_by_id_users')),
    sa.ForeignKeyConstraint(['item_id'], ['rectification_items.id'],
                            name=op.f('fk_supervision_orders_item_id_rectification_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['responsible_id'], ['users.id'],
                            name=op.f('fk_supervision_orders_responsible_id_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_supervision_orders_ticket_id_tickets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_orders'))
    )
    with op.batch_alter_table('supervision_orders', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_orders_deadline_at', ['deadline_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_orders_item_id'), ['item_id'], unique=False)
        batch_op.create_index('ix_supervision_orders_responsible_status', ['responsible_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_orders_ticket_id'), ['ticket_id'], unique=False)
        batch_op.create_index('ix_supervision_orders_unflagged', ['deadline_at'], unique=False,
                              postgresql_where=sa.text("status = 'open' AND overdue_at IS NULL"),
                              sqlite_where=sa.text("status = 'open' AND overdue_at IS NULL"))


def downgrade():
    with op.batch_alter_table('supervision_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_orders_unflagged')
        batch_op.drop_index(batch_op.f('ix_supervision_orders_ticket_id'))
        batch_op.drop_index('ix_supervision_orders_responsible_status')
        batch_op.drop_index(batch_op.f('ix_supervision_orders_item_id'))
        batch_op.drop_index('ix_supervision_orders_deadline_at')
    op.drop_table('supervision_orders')
