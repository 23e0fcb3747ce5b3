"""surveys: questionnaire responses, their imports and row errors, saved column mappings

Revision ID: 0008_surveys
Revises: 0007_rectification
Create Date: 2026-11-24 06:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_surveys'
down_revision = '0007_rectification'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('survey_mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_survey_mappings_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_mappings')),
    sa.UniqueConstraint('name', name=op.f('uq_survey_mappings_name'))
    )
    op.create_table('survey_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey', sa.String(length=120), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('file_bytes', sa.Integer(), nullable=False),
    sa.Column('file_info', sa.JSON(), nullable=False),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('mapping_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('is_dry_run', sa.Boolean(), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_new', sa.Integer(), nullable=False),
    sa.Column('rows_duplicate', sa.Integer(), nullable=False),
    sa.Column('rows_error', sa.Integer(), nullable=False),
    sa.Column('progress_done', sa.Integer(), nullable=False),
    sa.Column('progress_total', sa.Integer(), nullable=False),
    sa.Column('preview', sa.JSON(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_survey_imports_created_by_id_users')),
    sa.ForeignKeyConstraint(['mapping_id'], ['survey_mappings.id'], name=op.f('fk_survey_imports_mapping_id_survey_mappings'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_imports'))
    )
    with op.batch_alter_table('survey_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_imports_created_by_id'), ['created_by_id'], unique=False)

    op.create_table('survey_import_errors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('message', sa.String(length=255), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['survey_imports.id'], name=op.f('fk_survey_import_errors_import_id_survey_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_import_errors'))
    )
    with op.batch_alter_table('survey_import_errors', schema=None) as batch_op:
        batch_op.create_index('ix_survey_import_errors_import_id_id', ['import_id', 'id'], unique=False)

    op.create_table('survey_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('row_key', sa.String(length=64), nullable=False),
    sa.Column('survey', sa.String(length=120), nullable=False),
    sa.Column('response_ref', sa.String(length=120), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=120), nullable=False),
    sa.Column('respondent', sa.String(length=120), nullable=False),
    sa.Column('submitted_on', sa.Date(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rectification_item_id', sa.Integer(), nullable=True),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('linked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_survey_responses_centre_id_centres')),
    sa.ForeignKeyConstraint(['import_id'], ['survey_imports.id'], name=op.f('fk_survey_responses_import_id_survey_imports'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['linked_by_id'], ['users.id'], name=op.f('fk_survey_responses_linked_by_id_users')),
    sa.ForeignKeyConstraint(['rectification_item_id'], ['rectification_items.id'], name=op.f('fk_survey_responses_rectification_item_id_rectification_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_responses')),
    sa.UniqueConstraint('row_key', name=op.f('uq_survey_responses_row_key'))
    )
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.create_index('ix_survey_responses_centre_submitted', ['centre_id', 'submitted_on'], unique=False)
        batch_op.create_index('ix_survey_responses_centre_topic', ['centre_id', 'topic'], unique=False)
        batch_op.create_index('ix_survey_responses_item_id', ['rectification_item_id'], unique=False)


def downgrade():
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_responses_item_id')
        batch_op.drop_index('ix_survey_responses_centre_topic')
        batch_op.drop_index('ix_survey_responses_centre_submitted')

    op.drop_table('survey_responses')
    with op.batch_alter_table('survey_import_errors', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_import_errors_import_id_id')

    op.drop_table('survey_import_errors')
    with op.batch_alter_table('survey_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_imports_created_by_id'))

    op.drop_table('survey_imports')
    op.drop_table('survey_mappings')
