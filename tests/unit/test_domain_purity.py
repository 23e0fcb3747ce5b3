"""tracker.domain stays pure: no Flask, no SQLAlchemy, nothing from tracker outside the domain."""

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "tracker" / "domain"
# Web and database frameworks, and what they pull in, belong to the layers above.
FORBIDDEN_ROOTS = ("flask", "sqlalchemy", "werkzeug", "jinja2", "celery", "kombu", "alembic", "wtforms")


def forbidden_imports(source: str) -> list[str]:
    """Return the modules ``source`` imports that the domain must not."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:
                # "from .. import models" climbs out of tracker.domain.
                found.append("." * node.level + (node.module or ""))
                continue
            if node.level == 1:
                continue
            names = [node.module or ""]
        else:
            continue
        for name in names:
            root = name.split(".")[0]
            if root.startswith(FORBIDDEN_ROOTS) or root.startswith("flask_"):
                found.append(name)
            elif root == "tracker" and not (name == "tracker.domain" or name.startswith("tracker.domain.")):
                found.append(name)
    return found


def domain_modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def test_domain_modules_are_found():
    assert DOMAIN / "calendar.py" in domain_modules()


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: str(p.relative_to(DOMAIN)))
def test_domain_module_imports_no_framework_or_model(path):
    assert forbidden_imports(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("import flask", ["flask"], id="flask"),
        pytest.param("from flask_babel import gettext", ["flask_babel"], id="flask_extension"),
        pytest.param("import sqlalchemy.orm as orm", ["sqlalchemy.orm"], id="sqlalchemy"),
        pytest.param("from tracker.models import Ticket", ["tracker.models"], id="tracker_models"),
        pytest.param("from tracker import db", ["tracker"], id="tracker_package"),
        pytest.param("from ..models import Ticket", ["..models"], id="relative_escape"),
        pytest.param("def f():\n    import flask\n", ["flask"], id="import_inside_function"),
        pytest.param(
            "from tracker.domain.i18n import N_\nfrom . import roles\nimport zoneinfo", [], id="allowed"
        ),
    ],
)
def test_purity_check_catches_forbidden_imports(source, expected):
    assert forbidden_imports(source) == expected
