"""Uploading attachments to records, and downloading them for those who may see the record."""

from flask import Blueprint, current_app, flash, redirect, request, send_file, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from tracker.auth.decorators import require_role
from tracker.clock import utcnow
from tracker.errors import NotFound, TrackerError
from tracker.services.requests import attachments as attachment_service
from tracker.services.requests import tickets as ticket_service
from tracker.web.once import repeat_of

bp = Blueprint("attachments", __name__)

# Files are never pages: no script, no plugin, no frame, whatever they hold.
FILE_CSP = "default-src 'none'; img-src 'self'; sandbox"
# A photo opened full size is shown in the browser's own image page, which
# styles itself inline (Chromium: three blocked styles and three console errors
# per photo under FILE_CSP, issue 15.12). Nothing of ours or the uploader's
# is HTML there (the body is a re-encoded picture, served with nosniff), and
# the sandbox still allows no script: inline style is all that is added.
IMAGE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


@bp.route("/attachments/<int:attachment_id>")
@require_role()
def download(attachment_id):
    # One 404 for "no such file" and "not yours to see" (NotFound -> error page).
    found = attachment_service.open_for_download(attachment_id, user=current_user)
    # Photos open in the browser; documents are saved.
    return _send(found, inline=found.content_type.startswith("image/"))


@bp.route("/attachments/<int:attachment_id>/thumbnail")
@require_role()
def thumbnail(attachment_id):
    found = attachment_service.open_for_download(attachment_id, user=current_user, thumbnail=True)
    return _send(found, inline=True)


def _send(found: attachment_service.Download, *, inline: bool):
    response = send_file(
        found.path,
        mimetype=found.content_type,
        as_attachment=not inline,
        download_name=found.download_name,
        conditional=True,
        etag=True,
    )
    # Only for this user's browser, and checked again each time: access can change.
    response.headers["Cache-Control"] = "private, no-cache"
    is_image = found.content_type.startswith("image/")
    response.headers["Content-Security-Policy"] = IMAGE_CSP if is_image else FILE_CSP
    return response


@bp.route("/tickets/<reference>/attachments", methods=["POST"])
@require_role()
def add_to_ticket(reference):
    ticket = ticket_service.get_visible(reference, current_user)
    back = url_for("tickets.detail", reference=ticket.reference) + "#attachments"
    return handle_upload("ticket", ticket.id, back)


def handle_upload(owner_type: str, owner_id: int, back: str):
    """Store the posted file (field ``file``) on a record, flash the outcome, and go back.

    For other record types' upload routes: authorise the record first
    (NotFound for those who may not see it), then call this.
    """
    try:
        prepared = attachment_service.prepare_upload(
            request.files.get("file"), owner_type=owner_type, owner_id=owner_id, actor=current_user
        )
        # The same upload form sent again (Back, a double click) attaches nothing more.
        try:
            earlier = repeat_of(request.form.get("once"), "attachment", fallback=back)
        except BaseException:
            prepared.discard()
            raise
        if earlier is not None:
            prepared.discard()
            return earlier
        attachment = attachment_service.attach(
            prepared, owner_type=owner_type, owner_id=owner_id, actor=current_user, now=utcnow()
        )
    except NotFound:
        raise
    except TrackerError as error:
        flash(error.translated(), "error")
    else:
        flash(_("Attached: %(name)s.", name=attachment.original_name), "success")
    return redirect(back)


@bp.app_template_filter("file_size")
def file_size(size_bytes: int | None) -> str:
    """Format a size as people read it: "830 KB", "2.4 MB"."""
    if size_bytes is None:
        return "—"
    if size_bytes < 1024 * 1024:
        return _("%(size)s KB", size=format_decimal(max(round(size_bytes / 1024), 1)))
    return _("%(size)s MB", size=format_decimal(round(size_bytes / (1024 * 1024), 1)))


@bp.app_template_global("attachment_max_bytes")
def attachment_max_bytes() -> int:
    """The size limit, for upload forms to check before sending (static/js/attachments.js)."""
    return current_app.config["ATTACHMENT_MAX_BYTES"]


# The limit as people read it ("10" MB), for the forms' hints and messages.
bp.app_template_global("attachment_max_mb")(attachment_service.max_megabytes)
