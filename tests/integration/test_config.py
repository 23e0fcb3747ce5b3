"""Settings from the environment: the embedded default and production."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tracker.config import ConfigError, Environment, load

ROOT = Path(__file__).resolve().parents[2]


def test_embedded_default_needs_no_server(tmp_path):
    config = load(Environment({"TRACKER_INSTANCE_PATH": str(tmp_path)}))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'tracker.db'}"
    assert config["CELERY_BROKER_URL"] == "filesystem://"
    assert Path(config["CELERY_BROKER_TRANSPORT_OPTIONS"]["data_folder_in"]).is_dir()
    assert config["TRACKER_PRODUCTION"] is False


def test_generated_secret_key_is_kept_private_in_the_instance_folder(tmp_path):
    first = load(Environment({"TRACKER_INSTANCE_PATH": str(tmp_path)}))["SECRET_KEY"]
    second = load(Environment({"TRACKER_INSTANCE_PATH": str(tmp_path)}))["SECRET_KEY"]
    key_file = tmp_path / "secret_key"
    assert first == second == key_file.read_text() and len(first) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


PRODUCTION = {
    "DATABASE_URL": "postgresql://desk@db.example/desk",
    "CELERY_BROKER_URL": "redis://cache.example:6379/0",
    "SECRET_KEY": "s3cret",
}


def test_production_settings_switch_to_postgresql_and_redis(tmp_path):
    config = load(Environment({**PRODUCTION, "TRACKER_INSTANCE_PATH": str(tmp_path)}))
    assert config["TRACKER_PRODUCTION"] is True
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://desk@db.example/desk"
    assert config["CELERY_BROKER_URL"] == "redis://cache.example:6379/0"
    assert config["SESSION_COOKIE_SECURE"] is True
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CELERY_BROKER_URL"])
def test_production_without_a_required_value_refuses_to_start(tmp_path, missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError) as refused:
        load(Environment({**env, "TRACKER_INSTANCE_PATH": str(tmp_path)}))
    assert missing in str(refused.value)


def test_production_refuses_sqlite(tmp_path):
    env = {**PRODUCTION, "DATABASE_URL": "sqlite:////tmp/x.db", "TRACKER_ENV": "production"}
    with pytest.raises(ConfigError) as refused:
        load(Environment({**env, "TRACKER_INSTANCE_PATH": str(tmp_path)}))
    assert "SQLite" in str(refused.value)


def test_a_production_start_without_secret_key_says_why_without_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SECRET_KEY", "CELERY_", "TRACKER_"))}
    env.update({k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}, TRACKER_INSTANCE_PATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "cannot start" in result.stderr and "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
