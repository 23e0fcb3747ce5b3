"""service standards: policy versions as drafts or published from a date; the benchmark register

Existing versions are published, in force from their creation.

Revision ID: 0017_standards
Revises: 0016_delivery
Create Date: 2026-12-06 22:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_standards'
down_revision = '0016_delivery'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sla_policy_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='published', nullable=False))
        batch_op.add_column(sa.Column('effective_from', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('published_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_sla_policy_versions_published_by_id_users'), 'users',
                                    ['published_by_id'], ['id'])
        batch_op.create_index('ix_sla_policy_versions_in_force', ['policy_id', 'status', 'effective_from'],
                              unique=False)
    op.execute("UPDATE sla_policy_versions SET effective_from = created_at, published_at = created_at, "
               "published_by_id = created_by_id")

    op.create_table('benchmarks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_name', sa.String(length=200), nullable=False),
    sa.Column('source_url', sa.String(length=500), nullable=False),
    sa.Column('read_year', sa.Integer(), nullable=False),
    sa.Column('country', sa.String(length=8), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('service_class', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=32), nullable=False),
    sa.Column('limit_amount', sa.Float(), nullable=True),
    sa.Column('limit_unit', sa.String(length=16), nullable=True),
    sa.Column('calendar', sa.String(length=16), nullable=True),
    sa.Column('share', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_benchmarks_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_benchmarks'))
    )
    op.create_table('benchmark_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=True),
    sa.Column('benchmark_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['benchmark_id'], ['benchmarks.id'], name=op.f('fk_benchmark_links_benchmark_id_benchmarks'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_benchmark_links_created_by_id_users')),
    sa.ForeignKeyConstraint(['policy_id'], ['sla_policies.id'], name=op.f('fk_benchmark_links_policy_id_sla_policies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_benchmark_links'))
    )
    with op.batch_alter_table('benchmark_links', schema=None) as batch_op:
        batch_op.create_index('ix_benchmark_links_policy_target', ['policy_id', 'target'], unique=False)
        batch_op.create_index(batch_op.f('ix_benchmark_links_benchmark_id'), ['benchmark_id'], unique=False)


def downgrade():
    with op.batch_alter_table('benchmark_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_benchmark_links_benchmark_id'))
        batch_op.drop_index('ix_benchmark_links_policy_target')
    op.drop_table('benchmark_links')
    op.drop_table('benchmarks')
    with op.batch_alter_table('sla_policy_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_sla_policy_versions_in_force')
        batch_op.drop_constraint(batch_op.f('fk_sla_policy_versions_published_by_id_users'), type_='foreignkey')
        batch_op.drop_column('published_by_id')
        batch_op.drop_column('published_at')
        batch_op.drop_column('effective_from')
        batch_op.drop_column('status')
