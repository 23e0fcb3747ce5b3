"""The migrations build exactly the schema the models describe."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.conftest import TEST_DATABASE_URL, _fresh_postgres
from tracker import create_app
from tracker.extensions import db
from tracker.models.types import render_item  # noqa: F401  (the env uses it)


@pytest.fixture
def empty_database_url(tmp_path):
    if TEST_DATABASE_URL:
        url = sa.make_url(TEST_DATABASE_URL)
        return _fresh_postgres(url.set(database=f"{url.database}_migrations").render_as_string(hide_password=False))
    return f"sqlite:///{tmp_path / 'empty.db'}"


def _diff(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_upgrade_of_an_empty_database_matches_the_models(app_config, empty_database_url):
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade(revision="heads")
        assert _diff(app) == []
        db.engine.dispose()


def test_downgrade_to_nothing_and_up_again(app_config, empty_database_url):
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade(revision="heads")
        downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade(revision="heads")
        assert _diff(app) == []
        db.engine.dispose()
