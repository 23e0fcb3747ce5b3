"""Join the branches of issue 5's indexes, issue 6 and issue 8 into one head.

Attachments, the rectification ledger (and surveys on top of it), feedback,
the API's tokens, the ticket import and the dashboards' indexes were built
side by side, each as a branch from 0006_refresh. This revision changes no
table: it only makes ``flask db upgrade`` (one head) work again besides
``upgrade heads``.

Revision ID: 0009_merge
Revises: 0007_api, 0007_attachments, 0007_dashboards, 0007_feedback, 0007_import, 0008_surveys
"""

revision = "0009_merge"
down_revision = (
    "0007_api",
    "0007_attachments",
    "0007_dashboards",
    "0007_feedback",
    "0007_import",
    "0008_surveys",
)
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
