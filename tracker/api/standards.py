"""Replays through the API: start one (202), follow its progress, read its result.

The same services as the pages (tracker.services.sla.standards.saved): an
administrator replays any centre or the whole campus, a centre head one of
their centres; other tokens get 403.
"""

from flask import url_for
from marshmallow import Schema, fields, validate

from tracker.api import bp
from tracker.api.auth import caller, require_role
from tracker.api.once import IDEMPOTENCY_PARAMETER, REPLAYED_HEADER, earlier_creation
from tracker.api.schemas import Day, Id, Text
from tracker.api.tickets import operation
from tracker.clock import utcnow
from tracker.domain.roles import Role
from tracker.extensions import db
from tracker.models import SlaReplay
from tracker.services.sla.standards import saved


class NewReplaySchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=saved.NAME_MAX))
    first = Day(required=True, metadata={"description": "First local day of the period."})
    last = Day(required=True, metadata={"description": "Last local day of the period (included)."})
    centre_id = Id(allow_none=True, metadata={"description": "One centre; a centre head must give one of theirs."})
    draft = fields.Dict(keys=fields.String(), allow_none=True, metadata={
        "description": "The draft (docs/standards.md): policies by code, categories by centre/category, "
                       "calendars by code. Leave it out to replay the published versions."})
    policy_version_id = Id(allow_none=True, metadata={
        "description": "The policy version the draft is (kept with the replay); without `draft`, its definition "
                       "is replayed."})
    as_of = fields.AwareDateTime(allow_none=True, metadata={
        "description": "Read open requests' clocks at this instant; default now."})


class ProgressSchema(Schema):
    done = fields.Integer(required=True)
    total = fields.Integer(required=True)
    percent = fields.Integer(required=True)


class ReplaySummarySchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "queued, running, done or failed."})
    centre_id = fields.Integer(allow_none=True)
    policy_version_id = fields.Integer(allow_none=True)
    params = fields.Dict(required=True)
    progress = fields.Nested(ProgressSchema, required=True)
    message = fields.String(required=True, metadata={"description": "Why a failed replay failed."})
    created_at = fields.AwareDateTime(required=True)
    finished_at = fields.AwareDateTime(allow_none=True)
    share_url = fields.String(required=True, metadata={"description": "The shared link's page."})
    url = fields.String(required=True)


class ReplaySchema(ReplaySummarySchema):
    draft = fields.Dict(required=True, metadata={"description": "The checked draft replayed ({}: the published "
                                                                "standards)."})
    result = fields.Dict(allow_none=True, metadata={
        "description": "When done: figures per centre, category, priority and target, flips, workload and "
                       "the draft against the linked benchmarks (docs/standards.md)."})


class ReplayListSchema(Schema):
    items = fields.List(fields.Nested(ReplaySummarySchema), required=True)


def replay_data(row: SlaReplay, *, with_result: bool = True) -> dict:
    data = {
        "id": row.id, "name": row.name, "status": row.status.value, "centre_id": row.centre_id,
        "policy_version_id": row.policy_version_id, "params": row.params,
        "progress": {"done": row.progress_done, "total": row.progress_total, "percent": row.percent},
        "message": saved.shown_message(row), "created_at": row.created_at, "finished_at": row.finished_at,
        "share_url": url_for("standards.shared", token=row.share_token, _external=True),
        "url": url_for("api.standards_replay_read", replay_id=row.id),
    }
    if with_result:
        data["draft"] = row.draft
        data["result"] = row.result
    return data


@bp.route("/standards/replays", methods=["POST"], parameters=[IDEMPOTENCY_PARAMETER])
@bp.arguments(NewReplaySchema)
@bp.response(202, ReplaySchema, headers={"Location": {"schema": {"type": "string"}}, **REPLAYED_HEADER})
@operation(403, 404, 422, body=True)
@require_role(Role.ADMIN, Role.CENTRE_HEAD)
def standards_replay_start(args):
    """Start a replay of a period under a draft, as the token's owner

    Answers 202 at once: a worker replays the period. Read the progress and,
    once `status` is `done`, the result at `Location`. A malformed draft, a
    bad period or a period with no request answers 400, and nothing is
    stored. Needs the admin role, or centre_head for one of the owner's
    centres. With an `Idempotency-Key`, a repeat starts nothing and answers
    the replay started first.
    """
    earlier = earlier_creation("replay")
    if earlier is not None:
        db.session.rollback()
        row = saved.get_replay(earlier.object_id, actor=caller())
        return replay_data(row), 202, {"Location": url_for("api.standards_replay_read", replay_id=row.id),
                                       "Idempotent-Replayed": "true"}
    row = saved.start_replay(name=args["name"], first=args["first"], last=args["last"],
                             centre_id=args.get("centre_id"), draft=args.get("draft"),
                             policy_version_id=args.get("policy_version_id"), as_of=args.get("as_of"),
                             actor=caller(), now=utcnow())
    return replay_data(row), 202, {"Location": url_for("api.standards_replay_read", replay_id=row.id)}


@bp.route("/standards/replays", methods=["GET"])
@bp.response(200, ReplayListSchema)
@operation(403)
@require_role(Role.ADMIN, Role.CENTRE_HEAD)
def standards_replay_list():
    """List the newest replays the token's owner may read (without their results)"""
    return {"items": [replay_data(row, with_result=False) for row in saved.list_replays(actor=caller())]}


@bp.route("/standards/replays/<int:replay_id>", methods=["GET"])
@bp.response(200, ReplaySchema)
@operation(403, 404)
@require_role(Role.ADMIN, Role.CENTRE_HEAD)
def standards_replay_read(replay_id):
    """Read a replay: its progress, and its result once done"""
    return replay_data(saved.get_replay(replay_id, actor=caller()))
