"""duty rosters, technicians' skills, dispatch settings: shifts, technician_skills,
category_dispatch, centre_dispatch, dispatch_turns

Revision ID: 0026_roster
Revises: 0025_signon
Create Date: 2026-12-07 05:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = '0026_roster'
down_revision = '0025_signon'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_shifts_ends_after_start")),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], name=op.f("fk_shifts_centre_id_centres")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_shifts_created_by_id_users")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_shifts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shifts")),
    )
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.create_index("ix_shifts_centre_id_starts_at", ["centre_id", "starts_at"], unique=False)
        batch_op.create_index("ix_shifts_user_id_starts_at", ["user_id", "starts_at"], unique=False)
    op.create_table(
        "technician_skills",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_technician_skills_category_id_categories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_technician_skills_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "category_id", name=op.f("pk_technician_skills")),
    )
    op.create_table(
        "category_dispatch",
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("is_auto_dispatch", sa.Boolean(), nullable=False),
        sa.Column("is_emergency", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_category_dispatch_category_id_categories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("category_id", name=op.f("pk_category_dispatch")),
    )
    op.create_table(
        "centre_dispatch",
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("shows_duty_phone", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"],
            ["centres.id"],
            name=op.f("fk_centre_dispatch_centre_id_centres"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("centre_id", name=op.f("pk_centre_dispatch")),
    )
    op.create_table(
        "dispatch_turns",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("last_dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_dispatch_turns_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_dispatch_turns")),
    )


def downgrade():
    op.drop_table("dispatch_turns")
    op.drop_table("centre_dispatch")
    op.drop_table("category_dispatch")
    op.drop_table("technician_skills")
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.drop_index("ix_shifts_user_id_starts_at")
        batch_op.drop_index("ix_shifts_centre_id_starts_at")
    op.drop_table("shifts")
