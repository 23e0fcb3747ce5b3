"""The wall display (数据大屏) and the administrators' display links.

``/display`` is the display for a logged-in viewer (leadership and
administrators see every centre, a centre head or dispatcher their own);
``/display/<secret>`` is the same screen opened by a display link, with no
login. Each page polls its ``…/data`` address (JSON) every
``DISPLAY_REFRESH_SECONDS`` from ``static/js/display.js`` and updates the
figures in place. A revoked link's data answers 410, an unknown one 404, a
centre the link does not cover 403: the page then stops and says why.

The link's pages are rate-limited per client address and link
(``DISPLAY_RATE_LIMIT``): a screen polls a few times a minute, a guesser
gets 429s (and 256-bit secrets).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import force_locale, format_time, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import public, require_role
from tracker.auth.roles import CENTRE_MANAGERS, READ_ALL, Role
from tracker.clock import utcnow
from tracker.domain.sla_clock import TARGET_LABELS
from tracker.errors import TrackerError
from tracker.extensions import db, limiter
from tracker.forms import options
from tracker.forms.display import DisplayLinkForm
from tracker.models import Centre
from tracker.services.admin import centres as admin_service
from tracker.services.insight import display as service
from tracker.web.once import repeat_of

bp = Blueprint("display", __name__, url_prefix="/display")
links_bp = Blueprint("display_links", __name__, url_prefix="/admin/display-links")

VIEWERS = (*READ_ALL, *CENTRE_MANAGERS)
LANGUAGES = ("en", "zh_CN")
OFF = ("", "off", "none", "0")
UNUSED = "1/second"  # Flask-Limiter parses a limit even when the request is exempt


# ---------------------------------------------------------------- rate limit of the link pages


def _limit_key() -> str:
    secret = (request.view_args or {}).get("secret", "")
    return "display:" + (request.remote_addr or "unknown") + ":" + service.hash_secret(secret)[:16]


def _limit_exempt() -> bool:
    return str(current_app.config.get("DISPLAY_RATE_LIMIT") or "").strip().lower() in OFF


def _limit() -> str:
    return UNUSED if _limit_exempt() else current_app.config.get("DISPLAY_RATE_LIMIT")


_limited = limiter.limit(_limit, key_func=_limit_key, exempt_when=_limit_exempt)


# ---------------------------------------------------------------- shared


def _language() -> str:
    """Return the language asked for with ?lang=, else the request's own."""
    asked = request.args.get("lang")
    return asked if asked in LANGUAGES else str(get_locale())


def _centre_arg() -> tuple[bool, Centre | None]:
    """Return (asked, centre) for ?centre=<code>; (True, None) for a code that names no centre."""
    code = (request.args.get("centre") or "").strip()
    if not code:
        return False, None
    return True, db.session.execute(db.select(Centre).where(Centre.code == code)).scalar_one_or_none()


def _error(status: int, message: str, code: str):
    response = jsonify({"error": code, "message": message})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _data(centre_id: int | None, language: str):
    with force_locale(language):
        payload = service.shared_figures(
            centre_id,
            now=utcnow(),
            locale=language,
            max_age=current_app.config.get("DISPLAY_CACHE_SECONDS", 0),
        )
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(centre_id: int | None, language: str, data_url: str, switch_url: str, *, scope_name: str | None):
    now = utcnow()
    with force_locale(language):
        figures = service.figures(centre_id, now=now, locale=language)
        return render_template(
            "display/index.html",
            figures=figures,
            updated=format_time(now, "HH:mm:ss"),
            counted=format_time(datetime.fromisoformat(figures["now_counted_at"]), "HH:mm")
            if figures["now_counted_at"]
            else None,
            zone=current_app.config["TRACKER_TIMEZONE"],
            language=language,
            data_url=data_url,
            switch_url=switch_url,
            scope_name=scope_name,
            interval=current_app.config.get("DISPLAY_REFRESH_SECONDS", 30),
            target_labels={t.value: _(label) for t, label in TARGET_LABELS.items()},
        )


def _other(language: str) -> str:
    return "en" if language == "zh_CN" else "zh_CN"


# ---------------------------------------------------------------- logged in


def _viewer_centre() -> tuple[int | None, str | None]:
    """Return the centre the viewer asked for and may see (None: all); abort 403/404 otherwise."""
    asked, centre = _centre_arg()
    if asked and centre is None:
        abort(404)
    if current_user.has_any_role(*READ_ALL):
        return (centre.id, centre.name_for(_language())) if centre else (None, None)
    allowed = current_user.centre_ids(*CENTRE_MANAGERS)
    if centre is None:
        if len(allowed) != 1:
            centre = db.session.get(Centre, min(allowed)) if allowed else None
        else:
            centre = db.session.get(Centre, next(iter(allowed)))
    if centre is None or centre.id not in allowed:
        abort(403)
    return centre.id, centre.name_for(_language())


@bp.route("")
@require_role(*VIEWERS)
def index():
    centre_id, name = _viewer_centre()
    language = _language()
    code = request.args.get("centre") or None
    return _page(
        centre_id,
        language,
        url_for("display.data", centre=code, lang=language),
        url_for("display.index", centre=code, lang=_other(language)),
        scope_name=name,
    )


@bp.route("/data")
@public  # answers 401 itself, as JSON: the screen's script reads it
def data():
    language = _language()
    if not current_user.is_authenticated:
        with force_locale(language):
            return _error(401, _("Your session has ended. Log in again to see the display."), "unauthorised")
    if not current_user.has_any_role(*VIEWERS):
        with force_locale(language):
            return _error(403, _("You may not see this display."), "forbidden")
    centre_id, _name = _viewer_centre()
    return _data(centre_id, language)


# ---------------------------------------------------------------- opened by a display link


def _link_or_error(secret: str, language: str):
    """Return (link, None) or (None, an error answer in ``language``)."""
    try:
        return service.open_link(secret, now=utcnow()), None
    except TrackerError as error:
        with force_locale(language):
            return None, (error.http_status, error.translated(), error.code)


def _link_centre(link) -> tuple[int | None, str | None, bool]:
    """Return (centre id, its name, allowed) for the link and ?centre=."""
    asked, centre = _centre_arg()
    if link.centre_id is not None:
        if asked and (centre is None or centre.id != link.centre_id):
            return None, None, False
        return link.centre_id, link.centre.name_for(_language()), True
    if asked and centre is None:
        return None, None, False
    return (centre.id, centre.name_for(_language()), True) if centre else (None, None, True)


@bp.route("/<secret>")
@public
@_limited
def shared(secret: str):
    language = _language()
    link, error = _link_or_error(secret, language)
    if error is not None:
        status, message, _code = error
        with force_locale(language):
            return render_template("display/stopped.html", message=message, language=language), status
    centre_id, name, allowed = _link_centre(link)
    if not allowed:
        with force_locale(language):
            message = _("This display link does not show that service centre.")
            return render_template("display/stopped.html", message=message, language=language), 403
    code = request.args.get("centre") or None
    return _page(
        centre_id,
        language,
        url_for("display.shared_data", secret=secret, centre=code, lang=language),
        url_for("display.shared", secret=secret, centre=code, lang=_other(language)),
        scope_name=name,
    )


@bp.route("/<secret>/data")
@public
@_limited
def shared_data(secret: str):
    language = _language()
    link, error = _link_or_error(secret, language)
    if error is not None:
        return _error(*error)
    centre_id, _name, allowed = _link_centre(link)
    if not allowed:
        with force_locale(language):
            return _error(403, _("This display link does not show that service centre."), "forbidden")
    return _data(centre_id, language)


# ---------------------------------------------------------------- administrators: the links


def _form() -> DisplayLinkForm:
    form = DisplayLinkForm()
    locale = str(get_locale())
    form.centre_id.choices = options(
        [(None, _("All service centres"))]
        + [(c.id, c.name_for(locale)) for c in admin_service.all_centres() if c.is_active]
    )
    return form


def _links_page(form: DisplayLinkForm, *, address: str | None = None, status: int = 200):
    return render_template("display/links.html", form=form, links=service.links(), address=address), status


@links_bp.route("/", methods=["GET", "POST"], endpoint="index")
@require_role(Role.ADMIN)
def links():
    form = _form()
    if form.validate_on_submit():
        # Sent again (Back): the link exists, listed below; its address is never shown twice.
        earlier = repeat_of(form, "display_link", landing=lambda _id: url_for("display_links.index"))
        if earlier is not None:
            return earlier
        try:
            _link, secret = service.create_link(
                name=form.name.data, centre_id=form.centre_id.data or None, actor=current_user, now=utcnow()
            )
        except TrackerError as error:
            flash(error.translated(), "error")
            return _links_page(form, status=400)
        # The address is shown on this answer only: never in a redirect, the session or a log.
        return _links_page(_form(), address=url_for("display.shared", secret=secret, _external=True))
    if form.is_submitted():
        flash(_("Please correct the marked fields; nothing was saved."), "error")
    return _links_page(form, status=400 if form.is_submitted() else 200)


@links_bp.route("/<int:link_id>/revoke", methods=["POST"])
@require_role(Role.ADMIN)
def revoke(link_id: int):
    try:
        link = service.revoke_link(link_id, actor=current_user, now=utcnow())
    except TrackerError as error:
        flash(error.translated(), "error")
    else:
        flash(
            _("The display link %(name)s is revoked: its screen stops at its next refresh.", name=link.name),
            "success",
        )
    return redirect(url_for("display_links.index"))
