"""Importing historical tickets: mappings, time zones, dry runs, row errors, idempotency, SLA outcomes.

Runs are executed in this process (``importer.execute_run``, as ``flask
import-tickets`` does), except in the worker test, where the page's run goes
through a real Celery worker and its progress JSON is read.
"""

import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from flask_babel import force_locale
from openpyxl import Workbook
from sqlalchemy import func, select

from tests.conftest import csrf_token, post_form
from tests.factories import T0
from tests.integration import workers
from tracker.domain.sla_clock import Target, TargetState
from tracker.domain.workflow import Status
from tracker.extensions import db
from tracker.models import (
    Category,
    Centre,
    EventKind,
    ImportRowError,
    ImportRun,
    ReferenceCounter,
    RunStatus,
    Ticket,
    TicketEvent,
    TicketSla,
    User,
)
from tracker.services.requests import importer
from tracker.services.sla import clocks as sla

artifacts, make_system, smtp_sink = workers.artifacts, workers.make_system, workers.smtp_sink

HEADER = "case,opened,closed,state,unit,kind,subject\n"
AS_OF = datetime(2026, 2, 1, tzinfo=UTC)


def campus_mapping(**changes) -> dict:
    """A mapping of a small CSV: the units map onto the test world's centres and categories."""
    data = {
        "code": "old-desk",
        "name": "The old help desk",
        "source_system": "olddesk",
        "time_zone": "Asia/Shanghai",
        "date_formats": ["%Y-%m-%d %H:%M", "iso"],
        "columns": {"source_id": "case", "opened_at": "opened", "closed_at": "closed", "status": "state",
                    "centre": "unit", "category": "kind", "title": "subject"},
        "rules": {
            "centre": {"values": {"Repairs": "repairs", "Dorms": "dorm"}, "create_missing": False},
            "category": {"values": {"Leak": "water", "Keys": "keys"}, "create_missing": False},
            "status": {"done": "closed", "open": "open", "void": "cancelled"},
            "close_before_open_seconds": 60,
        },
        "default_priority": "normal",
    }
    data.update(changes)
    return data


def write(tmp_path, name: str, lines: list[str], header: str = HEADER) -> dict:
    path = tmp_path / name
    path.write_text(header + "".join(line + "\n" for line in lines), encoding="utf-8")
    return {"name": name, "path": str(path)}


def run(mapping, files, *, dry_run=False, as_of=AS_OF, time_zone=None, batch_size=importer.BATCH_SIZE):
    created = importer.create_run(mapping=mapping, files=files, dry_run=dry_run, as_of=as_of, time_zone=time_zone,
                                  actor=None, now=T0)
    done = importer.execute_run(created.id, batch_size=batch_size)
    assert done is not None
    assert done.status is RunStatus.DONE, done.message
    return done


def count(model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def ticket(key: str) -> Ticket:
    return db.session.execute(select(Ticket).where(Ticket.source_key == key)).scalar_one()


GOOD_ROWS = [
    "A1,2026-01-05 09:00,2026-01-05 11:30,done,Repairs,Leak,Tap drips in 301",
    "A2,2026-01-06 08:00,,open,Repairs,Leak,Pipe noise",
    "A3,2026-01-07 10:00,2026-01-08 10:00,done,Dorms,Keys,Lost key",
    "A4,2026-01-08 10:00,2026-01-08 12:00,void,Dorms,Keys,Filed twice",
]


# ---------------------------------------------------------------- mappings


def test_mapping_is_saved_and_reused_by_its_code(db, world, tmp_path):
    saved = importer.save_mapping(None, campus_mapping(), actor=world.users["admin"], now=T0)
    assert importer.mapping_by_code("old-desk").id == saved.id
    assert (saved.name, saved.time_zone, saved.source_system) == ("The old help desk", "Asia/Shanghai", "olddesk")
    files = [write(tmp_path, "a.csv", GOOD_ROWS[:1])]
    run(importer.mapping_by_code("old-desk"), files)
    second = [write(tmp_path, "b.csv", GOOD_ROWS[1:2])]
    run(importer.mapping_by_code("old-desk"), second)
    assert count(Ticket) == 2
    copy = importer.duplicate_mapping(saved.id, actor=None, now=T0)
    assert copy.code == "old-desk-copy" and copy.columns == saved.columns and copy.rules == saved.rules


def test_mapping_without_an_opened_column_is_refused(db, world):
    data = campus_mapping()
    del data["columns"]["opened_at"]
    with pytest.raises(importer.ValidationFailed):
        importer.save_mapping(None, data, actor=None, now=T0)
    assert importer.mapping_by_code("old-desk") is None


def test_admin_saves_a_mapping_through_its_page(client, world, login_as):
    login_as("admin")
    form = {"code": "old-desk", "name": "The old help desk", "source_system": "olddesk",
            "time_zone": "Asia/Shanghai", "date_formats": "%Y-%m-%d %H:%M\niso", "col_source_id": "case",
            "col_opened_at": "opened", "col_closed_at": "closed", "col_status": "state", "col_centre": "unit",
            "col_category": "kind", "centre_values": "Repairs = repairs", "category_values": "Leak = water",
            "status_values": "done = closed\nopen = open", "default_priority": "normal",
            "close_before_open_seconds": "60", "requester_username": "import"}
    response = post_form(client, "/admin/imports/mappings/new", form)
    assert response.status_code == 302, response.get_data(as_text=True)
    saved = importer.mapping_by_code("old-desk")
    assert saved.columns["opened_at"] == "opened"
    assert saved.rules["centre"]["values"] == {"Repairs": "repairs"}
    assert saved.rules["status"] == {"done": "closed", "open": "open"}
    page = client.get(f"/admin/imports/mappings/{saved.id}").get_data(as_text=True)
    assert "Repairs = repairs" in page


# ---------------------------------------------------------------- time zones


def test_naive_times_are_read_in_the_source_time_zone(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    run(mapping, [write(tmp_path, "a.csv", GOOD_ROWS[:1])])
    imported = ticket("olddesk:A1")
    # 09:00 in Shanghai (UTC+8) is 01:00 UTC.
    assert imported.created_at == datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    assert imported.closed_at == datetime(2026, 1, 5, 3, 30, tzinfo=UTC)


def test_a_run_may_read_the_source_in_another_time_zone(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    run(mapping, [write(tmp_path, "a.csv", GOOD_ROWS[:1])], time_zone="America/New_York")
    # 09:00 in New York in January (EST, UTC-5) is 14:00 UTC.
    assert ticket("olddesk:A1").created_at == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    assert importer.mapping_by_code("old-desk").time_zone == "Asia/Shanghai"  # the saved mapping is unchanged


def test_times_in_the_daylight_saving_gap_and_overlap_are_kept_and_counted(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(time_zone="America/New_York"), actor=None, now=T0)
    done = run(mapping, [write(tmp_path, "a.csv", [
        # 2026-03-08 02:30 never happened in New York; 2026-11-01 01:30 happened twice.
        "D1,2026-03-08 02:30,2026-03-08 04:00,done,Repairs,Leak,Gap",
        "D2,2026-11-01 01:30,2026-11-01 03:00,done,Repairs,Leak,Overlap",
    ])], as_of=datetime(2026, 12, 1, tzinfo=UTC))
    assert ticket("olddesk:D1").created_at == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 02:30 EST
    assert ticket("olddesk:D2").created_at == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # the first 01:30 (EDT)
    assert done.report["warnings"] == {"dst_shifted": 1, "dst_ambiguous": 1}


class _Options(HTMLParser):
    """The options of one select: (group label, value, label, selected), in page order."""

    def __init__(self, name: str):
        super().__init__()
        self.name, self.inside, self.group, self.options, self.current = name, False, None, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select":
            self.inside = attrs.get("name") == self.name
        elif self.inside and tag == "optgroup":
            self.group = attrs["label"]
        elif self.inside and tag == "option":
            self.current = [self.group, attrs["value"], "", "selected" in attrs]

    def handle_data(self, data):
        if self.current is not None:
            self.current[2] += data

    def handle_endtag(self, tag):
        if tag == "option" and self.current is not None:
            self.options.append(tuple(self.current))
            self.current = None
        elif tag == "optgroup":
            self.group = None
        elif tag == "select":
            self.inside = False


def zone_options(page: str) -> list[tuple]:
    parser = _Options("time_zone")
    parser.feed(page)
    return parser.options


def test_the_time_zone_list_starts_with_the_campus_zone_then_common_ones(app, client, world, login_as,
                                                                          monkeypatch):
    # Issue 15.11: ~550 raw names from "Africa/Abidjan" on, the campus's own somewhere in the middle.
    monkeypatch.setitem(app.config, "TRACKER_TIMEZONE", "Europe/Berlin")
    login_as("admin")
    page = client.get("/admin/imports/").get_data(as_text=True)
    options = zone_options(page)
    assert options[0] == (None, "", "The mapping's time zone", False)
    group, value, label, _selected = options[1]
    assert (group, value) == ("Campus time zone", "Europe/Berlin")
    assert re.fullmatch(r"Berlin · UTC\+0[12]:00 · Europe/Berlin", label)
    common = [(value, label) for group, value, label, _selected in options if group == "Common time zones"]
    assert [value for value, _label in common][:5] == [
        "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo"]
    assert ("Asia/Tokyo", "Tokyo · UTC+09:00 · Asia/Tokyo") in common
    assert ("America/New_York", "New York · UTC-05:00 · America/New_York") in common or \
        ("America/New_York", "New York · UTC-04:00 · America/New_York") in common
    assert ("UTC", "Coordinated Universal Time · UTC") in common
    assert "Europe/Berlin" not in dict(common)
    others = [(value, label) for group, value, label, _selected in options if group == "All time zones"]
    assert others[0] == ("Africa/Abidjan", "Africa/Abidjan · UTC+00:00")
    assert [value for value, _label in others] == sorted(value for value, _label in others)
    # Every zone once: nothing lost, nothing twice.
    values = [value for _group, value, _label, _selected in options[1:]]
    assert len(values) == len(set(values)) and set(values) == set(importer.zone_names())
    # The search box, shown by its script.
    assert 'data-zone-search="time_zone"' in page and "js/zone_search.js" in page

    # A new mapping starts at the campus zone; in Chinese the cities and groups read Chinese.
    post_form(client, "/language", {"locale": "zh_CN", "next": "/admin/imports/mappings/new"})
    options = zone_options(client.get("/admin/imports/mappings/new").get_data(as_text=True))
    assert options[0][0] == "校园所在时区" and options[0][1] == "Europe/Berlin" and options[0][3]
    assert ("常用时区", "Asia/Tokyo", "东京 · UTC+09:00 · Asia/Tokyo", False) in options
    assert ("全部时区", "Africa/Abidjan", "Africa/Abidjan · 阿比让 · UTC+00:00", False) in options


@pytest.mark.parametrize("locale, message", [
    ("en", "Unknown time zone “Mars/Olympus”: choose one from the list."),
    ("zh_CN", "未知时区“Mars/Olympus”：请从列表中选择。"),
])
def test_an_unknown_time_zone_is_refused_in_the_readers_language_and_nothing_changes(
        client, world, login_as, locale, message):
    saved = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    login_as("admin")
    post_form(client, "/language", {"locale": locale, "next": "/admin/imports/"})
    body = (HEADER + GOOD_ROWS[0] + "\n").encode()
    response = client.post("/admin/imports/", data={
        "csrf_token": csrf_token(client), "mapping": str(saved.id), "time_zone": "Mars/Olympus", "dry_run": "y",
        "files": (io.BytesIO(body), "a.csv")}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(ImportRun) == 0

    form = {"code": "old-desk", "name": "The old help desk", "source_system": "olddesk",
            "time_zone": "Mars/Olympus", "date_formats": "iso", "col_source_id": "case", "col_opened_at": "opened",
            "col_centre": "unit", "col_category": "kind", "centre_values": "Repairs = repairs",
            "category_values": "Leak = water", "default_priority": "normal", "close_before_open_seconds": "60",
            "requester_username": "import"}
    response = post_form(client, f"/admin/imports/mappings/{saved.id}", form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert importer.mapping_by_code("old-desk").time_zone == "Asia/Shanghai"

    # A zone from the long list, not one of those shown first, is as good as any.
    response = post_form(client, f"/admin/imports/mappings/{saved.id}", {**form, "time_zone": "Pacific/Auckland"})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    assert importer.mapping_by_code("old-desk").time_zone == "Pacific/Auckland"


# ---------------------------------------------------------------- dry runs


def _snapshot() -> dict:
    return {model.__name__: count(model) for model in
            (Ticket, TicketEvent, TicketSla, Centre, Category, User, ReferenceCounter)}


def test_dry_run_changes_nothing_and_shows_what_would_be_imported(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(rules={
        **campus_mapping()["rules"],
        "centre": {"values": {"Repairs": "repairs", "Dorms": "dorm"}, "create_missing": True},
        "category": {"values": {}, "create_missing": True},
    }), actor=None, now=T0)
    files = [write(tmp_path, "a.csv", [*GOOD_ROWS, "A5,2026-01-09 10:00,,open,Gardens,Fallen tree,Oak down",
                                       "A6,yesterday,,open,Repairs,Leak,Bad date"])]
    before = _snapshot()
    dry = run(mapping, files, dry_run=True)
    assert _snapshot() == before
    assert (dry.rows_total, dry.rows_imported, dry.rows_error) == (6, 5, 1)
    report = dry.report
    assert report["outcomes"] == {"closed": 2, "open": 2, "cancelled": 1}
    assert report["by_centre"]["gardens"]["new"] is True  # a centre that would be created
    assert count(ImportRowError, ImportRowError.run_id == dry.id) == 1  # only the run's own rows are written

    real = importer.run_again(dry.id, dry_run=False, actor=None, now=T0)
    done = importer.execute_run(real.id)
    assert done.rows_imported == 5
    assert count(Ticket) == 5
    assert db.session.execute(select(Centre).where(Centre.code == "gardens")).scalar_one().name_en == "Gardens"


# ---------------------------------------------------------------- row errors


def test_refused_rows_are_reported_with_their_row_numbers_and_the_others_imported(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    files = [write(tmp_path, "cases.csv", [
        GOOD_ROWS[0],                                                      # row 2
        "B2,05/01/2026,,open,Repairs,Leak,Bad date",                       # row 3
        "B3,2026-01-05 09:00,,lost,Repairs,Leak,Unknown status",           # row 4
        "A1,2026-01-05 09:00,2026-01-05 11:30,done,Repairs,Leak,Again",    # row 5: id seen in row 2
        "B5,2026-01-05 09:00,2026-01-05 08:00,done,Repairs,Leak,Early",    # row 6: closed an hour early
        "B6,2026-01-05 09:00,,open,Library,Leak,Unknown unit",             # row 7
        "B7,2026-01-05 09:00,2026-01-05 08:59:30,done,Repairs,Leak,Ok",   # row 8: 30 s early: clamped
    ])]
    done = run(mapping, files)
    assert (done.rows_total, done.rows_imported, done.rows_error) == (7, 2, 5)
    with force_locale("en"):
        errors = {e.row_number: importer.error_text(e) for e in importer.row_errors(done.id)}
    assert errors == {
        3: "opened: “05/01/2026” is not a date in the format %Y-%m-%d %H:%M | iso.",
        4: "Unknown status “lost”: add it to the mapping.",
        5: "The source row id A1 appears more than once in this import.",
        6: "The close time is 3600 s before the open time.",
        7: "Unknown centre “Library”: map it to a centre code, or let the mapping create centres.",
    }
    assert {e.file_name for e in importer.row_errors(done.id)} == {"cases.csv"}
    assert ticket("olddesk:B7").closed_at == ticket("olddesk:B7").created_at
    assert done.report["warnings"] == {"clamped": 1}


def test_run_page_lists_refused_rows_in_the_readers_language(client, world, login_as, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    done = run(mapping, [write(tmp_path, "cases.csv", ["B3,2026-01-05 09:00,,lost,Repairs,Leak,Unknown status"])])
    login_as("admin")
    page = client.get(f"/admin/imports/runs/{done.id}").get_data(as_text=True)
    assert "Unknown status “lost”: add it to the mapping." in page
    listing = client.get(f"/admin/imports/runs/{done.id}/errors.csv").get_data(as_text=True)
    assert "cases.csv,2,B3,Unknown status “lost”: add it to the mapping." in listing


def test_a_file_without_a_mapped_column_fails_the_run_with_a_message(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    files = [write(tmp_path, "a.csv", ["A1,2026-01-05 09:00"], header="case,opened\n")]
    created = importer.create_run(mapping=mapping, files=files, dry_run=False, as_of=AS_OF, actor=None, now=T0)
    done = importer.execute_run(created.id)
    assert done.status is RunStatus.FAILED
    assert "the header has no column" in done.message and "'closed'" in done.message
    assert count(Ticket) == 0


# ---------------------------------------------------------------- idempotency


def test_importing_the_same_rows_again_never_creates_a_second_ticket(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    first = run(mapping, [write(tmp_path, "a.csv", GOOD_ROWS[:2])], batch_size=100)
    assert first.rows_imported == 2
    events = count(TicketEvent)
    # The same rows and two new ones, in another file.
    again = run(mapping, [write(tmp_path, "b.csv", GOOD_ROWS)], batch_size=100)
    assert (again.rows_imported, again.rows_skipped) == (2, 2)
    assert count(Ticket) == 4
    assert count(Ticket, Ticket.source_key == "olddesk:A1") == 1
    assert count(TicketEvent) == events + count(TicketEvent, TicketEvent.ticket_id.in_(
        select(Ticket.id).where(Ticket.source_key.in_(["olddesk:A3", "olddesk:A4"]))))
    third = run(mapping, [write(tmp_path, "c.csv", GOOD_ROWS)])
    assert (third.rows_imported, third.rows_skipped) == (0, 4)
    assert count(Ticket) == 4


@pytest.mark.parametrize("aim, growing", [(60.0, True), (1e-9, False)], ids=["quick-batches", "slow-batches"])
def test_the_rows_go_in_batches_sized_to_their_aim_each_with_its_progress(db, world, tmp_path, monkeypatch,
                                                                          aim, growing):
    # Unless a size is given, each batch's rate sizes the next (issue 16: the
    # progress bar moves about every second however busy the machine is).
    # What is imported is the same whatever the batches.
    monkeypatch.setattr(importer, "BATCH_SIZE", 10)
    monkeypatch.setattr(importer, "SMALLEST_BATCH", 4)
    monkeypatch.setattr(importer, "LARGEST_BATCH", 80)
    rows = [f"B{i},2026-01-05 09:{i % 60:02d},2026-01-05 11:30,done,{('Repairs', 'Dorms')[i % 2]},"
            f"{('Leak', 'Keys')[i % 2]},Item {i}" for i in range(400)]
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    created = importer.create_run(mapping=mapping, files=[write(tmp_path, "many.csv", rows)], dry_run=False,
                                  as_of=AS_OF, time_zone=None, actor=None, now=T0)
    imported = []

    def progress(current):
        if current.status is RunStatus.RUNNING and current.rows_imported != (imported or [0])[-1]:
            imported.append(current.rows_imported)

    done = importer.execute_run(created.id, progress=progress, batch_seconds=aim)
    assert done.status is RunStatus.DONE, done.message
    assert (done.rows_imported, count(Ticket), count(TicketSla) > 0) == (400, 400, True)
    sizes = [after - before for before, after in zip([0, *imported[:-1]], imported, strict=True)]
    assert sum(sizes) == 400 and sizes[0] == 10
    full = sizes[:-1]  # the file's last rows make the last batch, whatever its size
    if growing:  # each batch doubles the next, up to the largest
        assert full == sorted(full) and max(full) == 80 and set(full) <= {10, 20, 40, 80}
    else:  # each batch shrinks the next to the smallest
        assert full == sorted(full, reverse=True) and full[-1] == 4 and set(full) <= {10, 4}
        assert len(sizes) > 400 // 10


def test_imported_history_is_written_as_events_at_the_source_times(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    run(mapping, [write(tmp_path, "a.csv", GOOD_ROWS)])
    closed = ticket("olddesk:A1")
    kinds = [(e.kind, e.to_status, e.created_at) for e in closed.events]
    assert kinds == [
        (EventKind.FILED, Status.NEW, datetime(2026, 1, 5, 1, 0, tzinfo=UTC)),
        (EventKind.STATUS_CHANGED, Status.RESOLVED, datetime(2026, 1, 5, 3, 30, tzinfo=UTC)),
        (EventKind.STATUS_CHANGED, Status.CLOSED, datetime(2026, 1, 5, 3, 30, tzinfo=UTC)),
    ]
    assert all(e.actor_id is None and e.data["imported"] is True for e in closed.events)
    assert closed.status is Status.CLOSED and not closed.is_open and closed.reference.startswith("RP-2026-")
    assert ticket("olddesk:A2").status is Status.NEW and ticket("olddesk:A2").is_open
    assert ticket("olddesk:A4").status is Status.CANCELLED


def test_imported_events_data_is_exactly_the_json_of_their_dicts(db, world, tmp_path):
    # The events' data go in as text made from a template (importer._event_texts):
    # it must be what each database's writer makes of the dicts, COPY on
    # PostgreSQL (ensure_ascii=False), SQLAlchemy's JSON type on SQLite (ASCII).
    data = campus_mapping()
    data["columns"]["due_at"] = "due"
    mapping = importer.save_mapping(None, data, actor=None, now=T0)
    header = "case,opened,due,closed,state,unit,kind,subject\n"
    done = run(mapping, [write(tmp_path, "a.csv", [
        '"Q""\\东1",2026-01-05 09:00,2026-01-06 09:00,2026-01-06 08:00,done,Repairs,Leak,Quoted id',
        "V2,2026-01-05 09:00,,2026-01-05 10:00,void,Dorms,Keys,No due time",
    ], header=header)])
    marker = {"imported": True, "run_id": done.id}
    water, keys = world.categories["water"].id, world.categories["keys"].id
    expected = {
        'olddesk:Q"\\东1': [
            {"priority": "normal", "category_id": water, "source": "import", "source_key": 'olddesk:Q"\\东1',
             **marker, "source_due_at": "2026-01-06T01:00:00+00:00"},
            {"action": "resolve", **marker},
            {"action": "confirm", **marker},
        ],
        "olddesk:V2": [
            {"priority": "normal", "category_id": keys, "source": "import", "source_key": "olddesk:V2", **marker},
            {"action": "cancel", **marker},
        ],
    }
    postgres = db.session.get_bind().dialect.name == "postgresql"
    for key, datas in expected.items():
        events = ticket(key).events
        assert [e.data for e in events] == datas
        texts = db.session.execute(
            select(func.cast(TicketEvent.data, db.Text)).where(TicketEvent.ticket_id == ticket(key).id)
            .order_by(TicketEvent.id)
        ).scalars().all()
        assert texts == [json.dumps(d, ensure_ascii=not postgres) for d in datas]


def test_xlsx_files_are_imported_with_their_date_cells(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(["X1", datetime(2026, 1, 5, 9, 0), datetime(2026, 1, 5, 11, 30), "done", "Repairs", "Leak", "Tap"])
    sheet.append([1002, "2026-01-06 08:00", None, "open", "Repairs", "Leak", "Pipe"])
    path = tmp_path / "cases.xlsx"
    book.save(path)
    done = run(mapping, [{"name": "cases.xlsx", "path": str(path)}])
    assert done.rows_imported == 2
    assert ticket("olddesk:X1").closed_at == datetime(2026, 1, 5, 3, 30, tzinfo=UTC)
    assert ticket("olddesk:1002").created_at == datetime(2026, 1, 6, 0, 0, tzinfo=UTC)


# ---------------------------------------------------------------- SLA outcomes


def test_sla_outcomes_follow_the_policy_in_force_and_match_a_recomputation(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    run(mapping, [write(tmp_path, "a.csv", [
        # The repairs policy resolves on working hours: 2.5 h in the morning is met, a week is not.
        "S1,2026-01-05 09:00,2026-01-05 11:30,done,Repairs,Leak,Quick",
        "S2,2026-01-05 09:00,2026-01-20 09:00,done,Repairs,Leak,Slow",
        "S3,2026-01-05 09:00,,open,Repairs,Leak,Forgotten",
    ])])
    version_id = sla.current_policy_version_id(world.policies["repairs"].id)
    for key in ("olddesk:S1", "olddesk:S2", "olddesk:S3"):
        imported = ticket(key)
        assert imported.sla_policy_version_id == version_id
        stored = {row.target: row for row in db.session.execute(
            select(TicketSla).where(TicketSla.ticket_id == imported.id)).scalars()}
        again = sla.clocks_for(imported, AS_OF)  # rebuilt from the imported events
        assert set(stored) == set(again) and Target.RESOLUTION in stored
        for target, clock in again.items():
            assert stored[target].state is clock.state, (key, target)
            assert stored[target].due_at == clock.due_at, (key, target)
    resolution = {key: db.session.execute(select(TicketSla.state).where(
        TicketSla.ticket_id == ticket(key).id, TicketSla.target == Target.RESOLUTION)).scalar_one()
        for key in ("olddesk:S1", "olddesk:S2", "olddesk:S3")}
    assert resolution == {"olddesk:S1": TargetState.MET, "olddesk:S2": TargetState.BREACHED,
                          "olddesk:S3": TargetState.BREACHED}
    assert ticket("olddesk:S3").is_sla_breached


def test_the_sources_own_due_time_is_the_resolution_target(db, world, tmp_path):
    data = campus_mapping()
    data["columns"]["due_at"] = "due"
    mapping = importer.save_mapping(None, data, actor=None, now=T0)
    header = "case,opened,due,closed,state,unit,kind,subject\n"
    run(mapping, [write(tmp_path, "a.csv", [
        "T1,2026-01-05 09:00,2026-01-06 09:00,2026-01-06 09:00,done,Repairs,Leak,On the dot",
        "T2,2026-01-05 09:00,2026-01-06 09:00,2026-01-06 09:01,done,Repairs,Leak,A minute late",
        "T3,2026-01-05 09:00,2026-01-06 09:00,,open,Repairs,Leak,Open and late",
        "T4,2026-01-05 09:00,2026-03-01 09:00,,open,Repairs,Leak,Open in time",
        "T5,2026-01-05 09:00,,2026-01-05 10:00,done,Repairs,Leak,No target",
    ], header=header)])
    states = {}
    for key in ("T1", "T2", "T3", "T4", "T5"):
        imported = ticket(f"olddesk:{key}")
        rows = list(db.session.execute(select(TicketSla).where(TicketSla.ticket_id == imported.id)).scalars())
        states[key] = [(r.target, r.state, r.due_at) for r in rows]
        if rows:
            # The stored outcome is what the clock rebuilds from the events.
            assert sla.clocks_for(imported, AS_OF)[Target.RESOLUTION].state is rows[0].state
    due = datetime(2026, 1, 6, 1, 0, tzinfo=UTC)
    assert states == {
        "T1": [(Target.RESOLUTION, TargetState.MET, due)],
        "T2": [(Target.RESOLUTION, TargetState.BREACHED, due)],
        "T3": [(Target.RESOLUTION, TargetState.BREACHED, due)],
        "T4": [(Target.RESOLUTION, TargetState.RUNNING, datetime(2026, 3, 1, 1, 0, tzinfo=UTC))],
        "T5": [],
    }


# ---------------------------------------------------------------- the page and who may use it


def test_admin_uploads_a_file_for_a_dry_run_and_sees_its_report(client, world, login_as, tmp_path):
    importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    mapping = importer.mapping_by_code("old-desk")
    login_as("admin")
    body = (HEADER + "".join(line + "\n" for line in GOOD_ROWS)).encode()
    response = client.post("/admin/imports/", data={
        "csrf_token": csrf_token(client), "mapping": str(mapping.id), "time_zone": "", "as_of": "2026-02-01 08:00",
        "dry_run": "y", "files": (io.BytesIO(body), "old cases.csv")}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    created = db.session.execute(select(ImportRun)).scalar_one()
    assert created.is_dry_run and created.status is RunStatus.PENDING
    assert created.files[0]["name"] == "old cases.csv"
    assert created.as_of == datetime(2026, 2, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    importer.execute_run(created.id)  # what the worker does
    status = client.get(f"/admin/imports/runs/{created.id}.json").get_json()
    assert status["status"] == "done" and status["percent"] == 100 and status["rows_imported"] == 4
    assert count(Ticket) == 0


def test_an_upload_of_another_kind_is_refused_and_records_nothing(client, world, login_as):
    importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    login_as("admin")
    response = client.post("/admin/imports/", data={
        "csrf_token": csrf_token(client), "mapping": str(importer.mapping_by_code("old-desk").id),
        "files": (io.BytesIO(b"%PDF"), "cases.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "cases.pdf is not a CSV, CSV.GZ or XLSX file." in response.get_data(as_text=True)
    assert count(ImportRun) == 0


@pytest.mark.parametrize("role", ["centre_head", "dispatcher", "leadership", "technician", "requester"])
def test_only_administrators_may_import(client, world, login_as, role):
    importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    login_as(role)
    response = client.post("/admin/imports/", data={
        "csrf_token": csrf_token(client), "mapping": str(importer.mapping_by_code("old-desk").id),
        "files": (io.BytesIO((HEADER + GOOD_ROWS[0]).encode()), "a.csv")}, content_type="multipart/form-data")
    assert response.status_code == 403
    assert client.get("/admin/imports/").status_code == 403
    assert count(ImportRun) == 0


# ---------------------------------------------------------------- a real worker


@pytest.mark.worker
def test_a_run_started_on_the_page_is_executed_by_a_worker_with_its_progress(make_system, tmp_path):
    from tests.factories import build_world

    system = make_system()
    worker = system.start_worker(ready=False)
    build_world()
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    rows = [f"W{n},2026-01-{1 + n % 28:02d} 09:00,2026-01-{1 + n % 28:02d} 11:00,done,Repairs,Leak,Case {n}"
            for n in range(12_000)]
    files = [write(tmp_path, "many.csv", rows)]
    worker.wait_ready()
    created = importer.create_run(mapping=mapping, files=files, dry_run=False, as_of=AS_OF, actor=None, now=T0,
                                  enqueue=True)
    run_id = created.id
    system.release()  # on SQLite an open transaction holds the write lock the worker needs
    runs = ImportRun.__table__
    seen = set()

    def finished():
        row = system.rows(select(runs.c.status, runs.c.rows_total, runs.c.progress_done, runs.c.progress_total,
                                 runs.c.phase).where(runs.c.id == run_id))[0]
        seen.add((row.phase, row.rows_total))
        return row if row.status in ("done", "failed") else None

    row = system.wait_until("the import run to finish", finished, timeout=300)
    assert row.status == "done" and row.rows_total == 12_000
    assert system.count(Ticket, Ticket.source_key.like("olddesk:W%")) == 12_000
    # Progress was committed batch by batch while it ran: batches sized to a
    # second, from SMALLEST_BATCH to BATCH_SIZE rows, never row by row.
    assert all(importer.SMALLEST_BATCH <= total <= 12_000 for phase, total in seen if phase == "rows" and total)
    client = system.app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    admin = db.session.execute(select(User).where(User.username == "admin")).scalar_one()
    with client.session_transaction() as session:
        session["_user_id"] = admin.get_id()
        session["_fresh"] = True
    status = client.get(f"/admin/imports/runs/{run_id}.json").get_json()
    assert status == {**status, "status": "done", "percent": 100, "rows_imported": 12_000, "is_finished": True}
    assert not worker.errors()


# ---------------------------------------------------------------- the command line


def test_command_line_imports_a_folder_and_prints_refused_rows(app, db, world, tmp_path):
    importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    folder = tmp_path / "export"
    folder.mkdir()
    write(folder, "a.csv", [GOOD_ROWS[0], "B3,2026-01-05 09:00,,lost,Repairs,Leak,Unknown status"])
    write(folder, "b.csv", GOOD_ROWS[1:3])
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["import-tickets", "--mapping", "old-desk", "--dry-run", str(folder)])
    assert dry.exit_code == 0, dry.output
    assert "a.csv, row 3: Unknown status “lost”: add it to the mapping." in dry.output
    assert "4 rows, 3 would be imported" in dry.output
    assert count(Ticket) == 0
    real = runner.invoke(args=["import-tickets", "--mapping", "The old help desk", "--as-of", "2026-02-01T08:00",
                               str(folder)])
    assert real.exit_code == 0, real.output
    assert "3 imported" in real.output and count(Ticket) == 3
    again = runner.invoke(args=["import-tickets", "--mapping", "old-desk", str(folder)])
    assert "0 imported, 3 imported before (skipped)" in again.output and count(Ticket) == 3


def test_command_line_exits_with_an_error_when_the_run_fails(app, db, world, tmp_path):
    importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    source = write(tmp_path, "a.csv", ["A1,2026-01-05 09:00"], header="case,opened\n")
    result = app.test_cli_runner().invoke(args=["import-tickets", "--mapping", "old-desk", source["path"]])
    assert result.exit_code == 1
    assert "the header has no column" in result.output
    unknown = app.test_cli_runner().invoke(args=["import-tickets", "--mapping", "nope", source["path"]])
    assert unknown.exit_code == 2 and "no mapping 'nope'" in unknown.output


def test_a_run_no_worker_took_is_flagged_and_can_be_run_again(db, world, tmp_path):
    from datetime import timedelta

    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    waiting = importer.create_run(mapping=mapping, files=[write(tmp_path, "a.csv", GOOD_ROWS)], dry_run=False,
                                  as_of=AS_OF, actor=None, now=T0)
    assert not importer.is_stalled(waiting, T0 + timedelta(minutes=5))
    assert importer.is_stalled(waiting, T0 + timedelta(minutes=11))
    again = importer.run_again(waiting.id, dry_run=False, actor=None, now=T0 + timedelta(minutes=11))
    assert importer.execute_run(again.id).rows_imported == 4
    # The lost task arrives after all: nothing is imported twice.
    late = importer.execute_run(waiting.id)
    assert (late.rows_imported, late.rows_skipped) == (0, 4) and count(Ticket) == 4
