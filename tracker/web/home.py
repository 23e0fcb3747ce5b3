"""The landing page: sends each user where their work is."""

from flask import Blueprint, redirect, url_for
from flask_login import current_user

from tracker.auth.decorators import public
from tracker.auth.roles import CENTRE_MANAGERS, STAFF, Role

bp = Blueprint("home", __name__)


@bp.route("/")
@public
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.has_any_role(*CENTRE_MANAGERS):
        return redirect(url_for("queue.dispatch"))
    if current_user.has_any_role(*STAFF):
        return redirect(url_for("queue.mine"))
    if current_user.has_role(Role.REQUESTER):
        return redirect(url_for("tickets.mine"))
    if current_user.has_role(Role.LEADERSHIP):
        return redirect(url_for("tickets.index"))
    if current_user.has_role(Role.ADMIN):
        return redirect(url_for("admin.index"))
    return redirect(url_for("auth.account"))
