"""Administration: users, centres, categories, locations."""

from flask import Blueprint, render_template

from tracker.auth.decorators import require_role
from tracker.auth.roles import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
@require_role(Role.ADMIN)
def index():
    return render_template("admin/index.html")
