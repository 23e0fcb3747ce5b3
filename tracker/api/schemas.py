"""The API's request and response schemas: one definition validates and documents.

Request schemas refuse what the services should never see: unknown
fields, wrong JSON types (a string for a number, ``true`` for an id),
numbers out of a column's range, text with NUL characters or lone
surrogates (PostgreSQL refuses them). Business rules (a description's
minimum length, which category fits which centre) stay in the services,
which answer in the same error shape. Response schemas are what the views
dump, so the OpenAPI description is what clients get.
"""

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate

from tracker.domain.limits import ID_MAX, PAGE_MAX, text_problem
from tracker.domain.rectification import ItemStatus
from tracker.domain.rectification import Source as ItemSource
from tracker.domain.sla_clock import Target, TargetState
from tracker.domain.workflow import Action, HoldReason, Priority, Status
from tracker.models import EventKind, QuoteStatus
from tracker.services.materials.stock import LINES_MAX
from tracker.services.requests import tickets as ticket_service

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
PER_PAGE_MAX = 100
STATUS_GROUPS = ("all", "open", "resolved", "done")


# ---------------------------------------------------------------- strict JSON fields


class Text(fields.String):
    """A string the databases can store: no NUL character, valid Unicode."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = text_problem(text)
        if problem:
            raise ValidationError(problem)
        return text


class Id(fields.Integer):
    """A row id in a JSON body: a whole number, not a string, float or boolean."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Range(min=1, max=ID_MAX))
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


class JsonNumber(fields.Float):
    """A number in a JSON body: not a string or boolean."""

    def _validated(self, value):
        if isinstance(value, bool | str):
            raise self.make_error("invalid")
        return super()._validated(value)


class Day(fields.Date):
    """A campus-local date between 2000 and 2100 (the calendar's useful range)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Range(min=FIRST_DAY, max=LAST_DAY))
        super().__init__(**kwargs)


def _enum(enum_cls, **kwargs):
    return fields.Enum(enum_cls, by_value=fields.String, **kwargs)


def _query_id(**kwargs):
    return fields.Integer(validate=validate.Range(min=1, max=ID_MAX), **kwargs)


# ---------------------------------------------------------------- errors


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"description": "Stable error code, e.g. invalid, forbidden."})
    message = fields.String(required=True, metadata={"description": "What went wrong, in the reader's language."})
    field_messages = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), data_key="fields",
                                 metadata={"description": "Messages per field, for bodies and parameters."})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBody, required=True)


# ---------------------------------------------------------------- requests


class PageQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=PAGE_MAX))
    per_page = fields.Integer(load_default=25, validate=validate.Range(min=1, max=PER_PAGE_MAX))


class TicketQuery(PageQuery):
    status = fields.String(load_default="all", validate=validate.OneOf(STATUS_GROUPS), metadata={
        "description": "open: work is owed; resolved: waiting for the requester; done: closed or cancelled."})
    centre = _query_id(metadata={"description": "A centre's id."})
    category = _query_id(metadata={"description": "A category's id."})
    priority = _enum(Priority)
    created_from = Day(metadata={"description": "Filed on or after this campus-local day."})
    created_to = Day(metadata={"description": "Filed on or before this campus-local day."})
    q = Text(validate=validate.Length(max=100), metadata={"description": "Part of the reference or title."})


class NewTicketSchema(Schema):
    centre_id = Id(required=True)
    category_id = Id(required=True)
    description = Text(required=True, validate=validate.Length(max=ticket_service.DESCRIPTION_MAX))
    location_id = Id(allow_none=True)
    location_note = Text(validate=validate.Length(max=ticket_service.LOCATION_NOTE_MAX))
    title = Text(validate=validate.Length(max=ticket_service.TITLE_MAX))
    priority = _enum(Priority, allow_none=True, metadata={"description": "Default: the category's."})
    contact_phone = Text(validate=validate.Length(max=ticket_service.CONTACT_PHONE_MAX))


class ActionSchema(Schema):
    """The details an action may need; which ones depends on the action (as on the web form)."""

    note = Text(validate=validate.Length(max=ticket_service.DESCRIPTION_MAX), metadata={
        "description": "Why (decline, cancel, reopen, priority or category change, longer hold), "
                       "what the hold waits for, or a note."})
    assignee_id = Id(metadata={"description": "assign: the technician."})
    hold_reason = _enum(HoldReason, metadata={"description": "hold: why."})
    resolution_note = Text(validate=validate.Length(max=ticket_service.DESCRIPTION_MAX),
                           metadata={"description": "resolve: what was done."})
    materials_used = Text(validate=validate.Length(max=ticket_service.REASON_MAX),
                          metadata={"description": "resolve: materials used."})
    priority = _enum(Priority, metadata={"description": "reprioritise: the new priority."})
    category_id = Id(metadata={"description": "recategorise: the new category."})
    extra_hold_minutes = JsonNumber(
        validate=validate.Range(min=0, max=ticket_service.EXTENSION_MAX_MINUTES, min_inclusive=False),
        metadata={"description": "extend_hold: extra minutes the hold may pause the clock."})
    materials = fields.List(
        fields.Nested(lambda: MaterialLineSchema()),
        validate=validate.Length(max=LINES_MAX),
        metadata={"description": "resolve: what the job used from the centre's catalogue (docs/materials.md). "
                                 "The same material twice is added up; stock goes down in the same transaction."})
    final_charge = Text(validate=validate.Length(max=64), metadata={
        "description": "resolve, a paid repair: the amount charged in yuan as typed (`1,300.00`, `¥1300`); "
                       "empty: the accepted quote's total. Refused without an accepted quote or above it."})
    expected_version = Id(metadata={
        "description": "The ticket's version you acted on; refused (409) if someone changed it meanwhile."})


class MaterialLineSchema(Schema):
    """One catalogue material a job used, as on the resolution form."""

    material_id = Id(required=True, metadata={"description": "A material of the request's centre, in use."})
    quantity = fields.Integer(required=True, strict=True, metadata={
        "description": "Whole units of the material's unit; at least 1, at most what is in stock."})


class QuoteSchema(Schema):
    """A paid repair's quote and the requester's answer; amounts in fen (0.01 yuan) and as yuan text."""

    id = fields.Integer(required=True)
    status = _enum(QuoteStatus, required=True)
    labour_fen = fields.Integer(required=True)
    materials_fen = fields.Integer(required=True)
    total_fen = fields.Integer(required=True)
    total = fields.String(required=True, metadata={"description": "The total in yuan, e.g. `1,314.50`."})
    note = fields.String(required=True, metadata={"description": "What the quote covers."})
    quoted_by = fields.Nested(lambda: PersonSchema(), required=True)
    quoted_at = fields.DateTime(required=True)
    decided_by = fields.Nested(lambda: PersonSchema(), required=True, allow_none=True,
                               metadata={"description": "Who answered or withdrew it; None while pending."})
    decided_at = fields.DateTime(required=True, allow_none=True)
    actions = fields.List(fields.String(), required=True, metadata={
        "description": "What the caller may do with it now: `accept` and `decline` for the requester "
                       "while it waits."})


class QuoteListSchema(Schema):
    items = fields.List(fields.Nested(QuoteSchema), required=True)


class CommentSchema(Schema):
    body = Text(required=True, validate=validate.Length(max=ticket_service.DESCRIPTION_MAX))


class CategoryQuery(Schema):
    centre = _query_id(metadata={"description": "Only this centre's categories."})


class FiguresQuery(Schema):
    first = Day(data_key="from", metadata={"description": "First campus-local day (default: 29 days before `to`)."})
    last = Day(data_key="to", metadata={"description": "Last campus-local day (default: today)."})
    centre = _query_id(metadata={"description": "Only this centre (required for group=category)."})
    group = fields.String(load_default="centre", validate=validate.OneOf(("centre", "category")))
    priority = _enum(Priority)


class RectificationQuery(PageQuery):
    status = fields.String(load_default="all", validate=validate.OneOf(("all", "active", "done")), metadata={
        "description": "active: on the backlog until verified; done: verified or cancelled."})
    centre = _query_id(metadata={"description": "A centre's id."})


# ---------------------------------------------------------------- responses


class RefSchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)


class PersonSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class CentreSchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "In the reader's language."})
    name_en = fields.String(required=True)
    name_zh = fields.String(required=True)
    ref_prefix = fields.String(required=True)
    description = fields.String(required=True, metadata={
        "description": "In the reader's language, else the other one."})
    description_en = fields.String(required=True, metadata={"description": "As written; may be empty."})
    description_zh = fields.String(required=True, metadata={"description": "As written; may be empty."})


class CategorySchema(Schema):
    id = fields.Integer(required=True)
    centre_id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    name_en = fields.String(required=True)
    name_zh = fields.String(required=True)
    default_priority = _enum(Priority, required=True)


class LocationSchema(Schema):
    id = fields.Integer(required=True)
    parent_id = fields.Integer(required=True, allow_none=True)
    kind = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    name_en = fields.String(required=True)
    name_zh = fields.String(required=True)
    path = fields.String(required=True, metadata={"description": "Campus › building › … in the reader's language."})
    centre_id = fields.Integer(required=True, allow_none=True)
    category_id = fields.Integer(required=True, allow_none=True)


class LinksSchema(Schema):
    self = fields.String(required=True)
    first = fields.String(required=True)
    last = fields.String(required=True)
    prev = fields.String(required=True, allow_none=True)
    next = fields.String(required=True, allow_none=True)


class PageSchema(Schema):
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    links = fields.Nested(LinksSchema, required=True)


class SlaSummarySchema(Schema):
    state = fields.String(required=True, validate=validate.OneOf(
        ("breached", "at_risk", "running", "paused", "done", "none")),
        metadata={"description": "The most urgent target's state now."})
    target = _enum(Target, required=True, allow_none=True)
    due_at = fields.DateTime(required=True, allow_none=True)
    remaining_minutes = fields.Float(required=True, allow_none=True)


class SlaTargetSchema(Schema):
    target = _enum(Target, required=True)
    state = _enum(TargetState, required=True)
    priority = _enum(Priority, required=True)
    target_minutes = fields.Float(required=True, metadata={"description": "Business minutes allowed."})
    started_at = fields.DateTime(required=True, allow_none=True)
    due_at = fields.DateTime(required=True, allow_none=True)
    at_risk_at = fields.DateTime(required=True, allow_none=True)
    milestone_at = fields.DateTime(required=True, allow_none=True)
    elapsed_minutes = fields.Float(required=True, metadata={"description": "Business minutes used."})
    paused_minutes = fields.Dict(keys=fields.String(), values=fields.Float(), required=True,
                                 metadata={"description": "Counted pause minutes per hold reason."})
    capped_reasons = fields.List(fields.String(), required=True,
                                 metadata={"description": "Hold reasons whose allowance ran out."})


class EventSchema(Schema):
    id = fields.Integer(required=True)
    kind = _enum(EventKind, required=True)
    actor = fields.Nested(PersonSchema, required=True, allow_none=True,
                          metadata={"description": "None: the application itself."})
    created_at = fields.DateTime(required=True)
    from_status = _enum(Status, required=True, allow_none=True)
    to_status = _enum(Status, required=True, allow_none=True)
    body = fields.String(required=True)
    data = fields.Dict(keys=fields.String(), required=True)


class TicketSchema(Schema):
    reference = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    status = _enum(Status, required=True)
    priority = _enum(Priority, required=True)
    centre = fields.Nested(RefSchema, required=True)
    category = fields.Nested(RefSchema, required=True)
    location = fields.Nested(RefSchema, required=True, allow_none=True)
    location_note = fields.String(required=True)
    contact_phone = fields.String(required=True)
    source = fields.String(required=True)
    requester = fields.Nested(PersonSchema, required=True)
    assignee = fields.Nested(PersonSchema, required=True, allow_none=True)
    hold_reason = _enum(HoldReason, required=True, allow_none=True)
    resolution_note = fields.String(required=True)
    materials_used = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    accepted_at = fields.DateTime(required=True, allow_none=True)
    arrived_at = fields.DateTime(required=True, allow_none=True)
    resolved_at = fields.DateTime(required=True, allow_none=True)
    closed_at = fields.DateTime(required=True, allow_none=True)
    cancelled_at = fields.DateTime(required=True, allow_none=True)
    version = fields.Integer(required=True, metadata={"description": "Send it back as expected_version."})
    sla = fields.Nested(SlaSummarySchema, required=True)
    actions = fields.List(_enum(Action), required=True,
                          metadata={"description": "What the token may do to the ticket now."})
    url = fields.String(required=True)


class TicketDetailSchema(TicketSchema):
    sla_targets = fields.List(fields.Nested(SlaTargetSchema), required=True)
    history = fields.List(fields.Nested(EventSchema), required=True)


class TicketPageSchema(PageSchema):
    items = fields.List(fields.Nested(TicketSchema), required=True)
    more = fields.Boolean(required=True, metadata={
        "description": "More tickets match than `total`: the count stops at 1,000 (or at the end of the "
                       "page after this one, when further) and `pages`/`last` stop with it."})


class CentreListSchema(Schema):
    items = fields.List(fields.Nested(CentreSchema), required=True)


class CategoryListSchema(Schema):
    items = fields.List(fields.Nested(CategorySchema), required=True)


class LocationPageSchema(PageSchema):
    items = fields.List(fields.Nested(LocationSchema), required=True)


class EventListSchema(Schema):
    items = fields.List(fields.Nested(EventSchema), required=True)


_COUNTS = fields.Dict(keys=fields.String(), values=fields.Integer())


class FigureRowSchema(Schema):
    key = fields.Integer(required=True, allow_none=True, metadata={"description": "The centre or category id."})
    code = fields.String(required=True, allow_none=True)
    name = fields.String(required=True, allow_none=True)
    received = fields.Integer(required=True)
    resolved = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    cancelled = fields.Integer(required=True)
    met = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    breached = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    met_percent = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True), required=True)
    backlog = fields.Integer(required=True)
    ageing = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    awaiting_confirmation = fields.Integer(required=True)
    breached_now = fields.Integer(required=True)
    at_risk_now = fields.Integer(required=True)
    rating_count = fields.Integer(required=True)
    satisfaction = fields.Float(required=True, allow_none=True)


class FiguresSchema(Schema):
    first = fields.Date(required=True, data_key="from")
    last = fields.Date(required=True, data_key="to")
    group = fields.String(required=True)
    centre = fields.Integer(required=True, allow_none=True)
    priority = _enum(Priority, required=True, allow_none=True)
    rows = fields.List(fields.Nested(FigureRowSchema), required=True)
    total = fields.Nested(FigureRowSchema, required=True)



class RectificationEventSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    actor = fields.Nested(PersonSchema, required=True, allow_none=True,
                          metadata={"description": "None: the application itself."})
    created_at = fields.DateTime(required=True)
    from_status = _enum(ItemStatus, required=True, allow_none=True)
    to_status = _enum(ItemStatus, required=True, allow_none=True)
    body = fields.String(required=True)
    data = fields.Dict(keys=fields.String(), required=True)


class LinkedTicketSchema(Schema):
    reference = fields.String(required=True)
    title = fields.String(required=True)
    status = _enum(Status, required=True)
    url = fields.String(required=True)


class RectificationSchema(Schema):
    reference = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    source = _enum(ItemSource, required=True)
    source_ref = fields.String(required=True)
    status = _enum(ItemStatus, required=True)
    priority = _enum(Priority, required=True)
    centre = fields.Nested(RefSchema, required=True)
    category = fields.Nested(RefSchema, required=True, allow_none=True)
    location = fields.Nested(RefSchema, required=True, allow_none=True)
    responsible = fields.Nested(PersonSchema, required=True, allow_none=True)
    due_on = fields.Date(required=True, metadata={"description": "The deadline, a campus-local day."})
    due_at = fields.DateTime(required=True)
    at_risk_at = fields.DateTime(required=True)
    progress_percent = fields.Integer(required=True, allow_none=True)
    fix_summary = fields.String(required=True)
    rejection_count = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    started_at = fields.DateTime(required=True, allow_none=True)
    submitted_at = fields.DateTime(required=True, allow_none=True)
    verified_at = fields.DateTime(required=True, allow_none=True)
    cancelled_at = fields.DateTime(required=True, allow_none=True)
    url = fields.String(required=True)


class RectificationDetailSchema(RectificationSchema):
    history = fields.List(fields.Nested(RectificationEventSchema), required=True)
    tickets = fields.List(fields.Nested(LinkedTicketSchema), required=True,
                          metadata={"description": "Linked requests that the token may read."})
    hidden_tickets = fields.Integer(required=True, metadata={
        "description": "How many linked requests the token may not read."})


class RectificationPageSchema(PageSchema):
    items = fields.List(fields.Nested(RectificationSchema), required=True)
