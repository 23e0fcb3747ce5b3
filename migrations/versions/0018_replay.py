"""saved replays of a draft standard over a period: sla_replays

Revision ID: 0018_replay
Revises: 0017_standards
Create Date: 2026-12-06 23:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018_replay'
down_revision = '0017_standards'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sla_replays',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=True),
    sa.Column('policy_version_id', sa.Integer(), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('draft', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('progress_done', sa.Integer(), nullable=False),
    sa.Column('progress_total', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('share_token', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_replays_centre_id_centres')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_sla_replays_created_by_id_users')),
    sa.ForeignKeyConstraint(['policy_version_id'], ['sla_policy_versions.id'],
                            name=op.f('fk_sla_replays_policy_version_id_sla_policy_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_replays')),
    sa.UniqueConstraint('share_token', name=op.f('uq_sla_replays_share_token'))
    )
    with op.batch_alter_table('sla_replays', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sla_replays_centre_id'), ['centre_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sla_replays_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sla_replays_policy_version_id'), ['policy_version_id'], unique=False)


def downgrade():
    with op.batch_alter_table('sla_replays', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sla_replays_policy_version_id'))
        batch_op.drop_index(batch_op.f('ix_sla_replays_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_sla_replays_centre_id'))
    op.drop_table('sla_replays')
