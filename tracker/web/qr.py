"""QR codes of places and machines: the sheets to print per building, and each code as PNG.

Administrators, dispatchers and centre heads print them: they put up the
stickers. The codes lead to the request form, which anyone with the
requester role can open; the codes themselves hold nothing secret.
"""

from flask import Blueprint, Response, abort, render_template
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _

from tracker.auth.decorators import require_role
from tracker.auth.roles import CENTRE_MANAGERS, Role
from tracker.services.requests import qr_codes

bp = Blueprint("qr", __name__, url_prefix="/qr")

PRINTERS = (*CENTRE_MANAGERS, Role.ADMIN)


@bp.route("/")
@require_role(*PRINTERS)
def index():
    return render_template("qr/index.html", sheets=qr_codes.sheets_index(str(get_locale())))


@bp.route("/sheets/<int:group_id>")
@require_role(*PRINTERS)
def sheet(group_id):
    found = qr_codes.sheet(group_id)
    if found is None:
        abort(404)
    # Stickers speak both languages, whatever the printing user reads.
    calls = {}
    for key, locale in (("zh", "zh_CN"), ("en", "en")):
        with force_locale(locale):
            calls[key] = _("Scan to report a problem")
    return render_template("qr/sheet.html", sheet=found, calls=calls)


@bp.route("/places/<int:location_id>.png")
@require_role(*PRINTERS)
def png(location_id):
    place = qr_codes.location(location_id)
    if place is None:
        abort(404)
    response = Response(qr_codes.png(place), mimetype="image/png")
    response.headers["Content-Disposition"] = f'inline; filename="qr-{place.code}.png"'
    # The address inside follows TRACKER_BASE_URL and the place's settings: not cached for long.
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
