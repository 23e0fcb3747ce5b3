"""sign-on: directory accounts of users: signon_identities

Revision ID: 0025_signon
Revises: 0024_materials
Create Date: 2026-12-07 05:30:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0025_signon'
down_revision = '0024_materials'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('signon_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('granted_roles', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sign_in_count', sa.Integer(), nullable=False),
    sa.Column('session_ticket', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_signon_identities_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signon_identities')),
    sa.UniqueConstraint('provider', 'subject', name=op.f('uq_signon_identities_provider_subject'))
    )
    with op.batch_alter_table('signon_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signon_identities_session_ticket'), ['session_ticket'], unique=False)
        batch_op.create_index(batch_op.f('ix_signon_identities_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('signon_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signon_identities_user_id'))
        batch_op.drop_index(batch_op.f('ix_signon_identities_session_ticket'))
    op.drop_table('signon_identities')
