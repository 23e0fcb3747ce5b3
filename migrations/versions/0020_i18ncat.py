"""catalogue texts per language: centres.description_zh/_en, survey_topics

Revision ID: 0020_i18ncat
Revises: 0019_ledger
Create Date: 2026-12-07 02:00:00

The one description a centre had goes to the campus's default language
(``TRACKER_DEFAULT_LOCALE``, zh_CN unless set); the other stays empty and
pages fall back to it until an administrator writes it.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020_i18ncat'
down_revision = '0019_ledger'
branch_labels = None
depends_on = None


def _default_suffix() -> str:
    try:
        from flask import current_app
        locale = current_app.config.get("BABEL_DEFAULT_LOCALE") or "zh_CN"
    except RuntimeError:  # alembic run without the app
        locale = "zh_CN"
    return "zh" if str(locale).startswith("zh") else "en"


def upgrade():
    with op.batch_alter_table('centres', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description_en', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('description_zh', sa.Text(), nullable=False, server_default=''))
    op.execute(f"UPDATE centres SET description_{_default_suffix()} = COALESCE(description, '')")
    with op.batch_alter_table('centres', schema=None) as batch_op:
        batch_op.drop_column('description')
        batch_op.alter_column('description_en', server_default=None)
        batch_op.alter_column('description_zh', server_default=None)
    op.create_table('survey_topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_topics')),
    sa.UniqueConstraint('key', name=op.f('uq_survey_topics_key'))
    )


def downgrade():
    op.drop_table('survey_topics')
    with op.batch_alter_table('centres', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=False, server_default=''))
    op.execute("UPDATE centres SET description = CASE WHEN description_zh <> '' THEN description_zh "
               "ELSE description_en END")
    with op.batch_alter_table('centres', schema=None) as batch_op:
        batch_op.drop_column('description_zh')
        batch_op.drop_column('description_en')
        batch_op.alter_column('description', server_default=None)
