"""Survey responses: importing CSV and xlsx files, browsing them, turning them into rectification items.

The sample file is a canteen-and-dormitory satisfaction questionnaire as a
questionnaire platform exports it: a response id, a submission time, who
answered, the centre, the topic, a 1-5 score and a free-text comment.
"""

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from tests.conftest import IsolatedClient, post_form
from tests.factories import T0
from tests.integration import workers
from tracker.clock import utcnow
from tracker.domain.rectification import Source
from tracker.errors import Conflict, ValidationFailed
from tracker.extensions import db
from tracker.models import (
    ImportStatus,
    RectificationItem,
    SurveyImport,
    SurveyImportError,
    SurveyMapping,
    SurveyResponse,
)
from tracker.services.ledger import rectification as ledger
from tracker.services.ledger import surveys

HEADER = ["Response ID", "Submitted at", "Respondent", "Service centre", "Topic", "Satisfaction (1-5)", "Comments"]
ROWS = [
    ["Q-1001", "2026-10-08 08:12:40", "student", "repairs", "Air-conditioning", "2",
     "The air-conditioner in room 301 drips onto the desk every afternoon."],
    ["Q-1002", "2026-10-08 09:30:02", "staff", "Repair and maintenance", "Response time", "5",
     "Came within twenty minutes, very polite."],
    ["Q-1003", "2026/10/09", "student", "dorm", "Hot water", "1",
     "No hot water after 22:00 in building 3 for two weeks."],
    ["Q-1004", "2026年10月9日", "student", "宿舍管理中心", "Hot water", "2",
     "Showers are cold in the evening, please fix the boiler schedule."],
    ["Q-1005", "2026-10-10", "staff", "dorm", "Keys", "4", ""],
]


def csv_bytes(header=HEADER, rows=ROWS, *, encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(header=HEADER, rows=ROWS, *, dates=False) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        values = list(row)
        if dates and values[1]:
            # Real date cells, as Excel stores them.
            values[1] = datetime(2026, 10, 8, 8, 12) if "-" in values[1] else values[1]
        if values[5].isdigit():
            values[5] = int(values[5])
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


MAPPING = {"col_response_id": "Response ID", "col_submitted_on": "Submitted at", "col_respondent": "Respondent",
           "col_centre": "Service centre", "col_topic": "Topic", "col_score": "Satisfaction (1-5)",
           "col_comment": "Comments", "score_min": "1", "score_max": "5"}
COLUMNS = {k[4:]: v for k, v in MAPPING.items() if k.startswith("col_")}
SETTINGS = {"centre_id": None, "date_format": "", "score_min": 1, "score_max": 5}


def client_for(app, world, role) -> IsolatedClient:
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    user = world.users[role]
    response = post_form(client, "/login", {"username": user.username, "password": world.password})
    assert response.status_code == 302
    return client


def upload(client, data: bytes, name: str, survey: str = "Campus services survey, autumn 2026"):
    response = post_form(client, "/surveys/import", {"survey": survey, "file": (io.BytesIO(data), name)},
                         content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rstrip("/").split("/")[-2])


def run(client, import_id: int, action: str, **overrides):
    response = post_form(client, f"/surveys/imports/{import_id}/mapping", {**MAPPING, "action": action, **overrides})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert response.headers["Location"].endswith(f"/surveys/imports/{import_id}")
    db.session.rollback()
    return db.session.get(SurveyImport, import_id)


def responses_count() -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(SurveyResponse)).scalar_one()


def service_upload(world, data: bytes, name: str, *, role="leadership", survey="Campus services survey") -> int:
    item = surveys.upload(io.BytesIO(data), name, survey, actor=world.users[role], now=utcnow())
    return item.id


# ---------------------------------------------------------------- mapping and dry run


def test_upload_proposes_a_mapping_and_a_dry_run_shows_what_it_would_import_and_stores_nothing(app, world):
    client = client_for(app, world, "leadership")
    import_id = upload(client, csv_bytes(), "autumn.csv")
    page = client.get(f"/surveys/imports/{import_id}/mapping").get_data(as_text=True)
    # The header's names were recognised: each field's column is chosen already.
    for column in HEADER:
        assert f'<option selected value="{column}">' in page or f'value="{column}" selected' in page, column
    assert "The first rows of the file" in page and "Q-1003" in page

    item = run(client, import_id, "dry_run")
    assert (item.status, item.is_dry_run) == (ImportStatus.DONE, True)
    assert (item.rows_total, item.rows_new, item.rows_duplicate, item.rows_error) == (5, 5, 0, 0)
    assert responses_count() == 0
    page = client.get(f"/surveys/imports/{import_id}").get_data(as_text=True)
    assert "What would be imported" in page and "No hot water after 22:00" in page
    assert "Import 5 responses" in page


def test_import_stores_each_row_with_its_centre_date_topic_and_score(app, world):
    client = client_for(app, world, "leadership")
    import_id = upload(client, csv_bytes(), "autumn.csv")
    item = run(client, import_id, "import")
    assert (item.status, item.is_dry_run, item.rows_new) == (ImportStatus.DONE, False, 5)
    rows = {r.response_ref: r for r in db.session.execute(select(SurveyResponse)).scalars()}
    repairs, dorm = world.centres["repairs"].id, world.centres["dorm"].id
    assert {k: r.centre_id for k, r in rows.items()} == {"Q-1001": repairs, "Q-1002": repairs, "Q-1003": dorm,
                                                         "Q-1004": dorm, "Q-1005": dorm}
    assert rows["Q-1001"].submitted_on == date(2026, 10, 8)
    assert rows["Q-1003"].submitted_on == date(2026, 10, 9)
    assert rows["Q-1004"].submitted_on == date(2026, 10, 9)
    assert (rows["Q-1003"].topic, rows["Q-1003"].score, rows["Q-1003"].row_number) == ("Hot water", 1, 4)
    assert rows["Q-1005"].comment == "" and rows["Q-1005"].score == 4


def test_a_saved_mapping_is_offered_and_fills_the_next_files_columns(app, world):
    client = client_for(app, world, "leadership")
    renamed = ["id", "when", "who", "centre code", "about", "mark", "what they said"]
    first = upload(client, csv_bytes(renamed), "first.csv")
    mapping = {"col_response_id": "id", "col_submitted_on": "when", "col_respondent": "who",
               "col_centre": "centre code", "col_topic": "about", "col_score": "mark",
               "col_comment": "what they said"}
    run(client, first, "dry_run", **mapping, save_as="Platform export")
    saved = db.session.execute(select(SurveyMapping)).scalar_one()
    assert saved.name == "Platform export" and saved.columns["score"] == "mark"

    second = upload(client, csv_bytes(renamed, ROWS[:2]), "second.csv")
    page = client.get(f"/surveys/imports/{second}/mapping?mapping={saved.id}").get_data(as_text=True)
    assert 'value="mark" selected' in page or '<option selected value="mark">' in page
    item = run(client, second, "import", **mapping)
    assert item.rows_new == 2


# ---------------------------------------------------------------- errors per row


def test_bad_rows_are_reported_with_their_row_numbers_and_the_good_ones_imported(app, world):
    rows = [
        ROWS[0],
        ["Q-2002", "2026-10-08", "student", "laundry office", "Machines", "3", "Broken again."],  # unknown centre
        ["Q-2003", "2026-10-08", "student", "dorm", "Keys", "7", "Out of range."],  # score out of scale
        ["Q-2004", "next Tuesday", "student", "dorm", "Keys", "3", "Bad date."],
        ["", "", "", "", "", "", ""],  # an empty line: skipped, still counted in the numbering
        ["Q-2006", "2026-10-08", "student", "dorm", "Keys", "", ""],  # neither score nor comment
        ["Q-1001", "2026-10-08", "student", "repairs", "Again", "3", "Same id as row 2."],
        ["Q-2008", "2026-10-08", "staff", "repairs", "Lifts", "4.5", "Half points."],
        ["Q-2009", "2026-02-30", "staff", "repairs", "Lifts", "4", "No such day."],
    ]
    client = client_for(app, world, "leadership")
    import_id = upload(client, csv_bytes(rows=rows), "errors.csv")
    item = run(client, import_id, "dry_run")
    assert (item.rows_total, item.rows_new, item.rows_error) == (8, 1, 7)
    page = client.get(f"/surveys/imports/{import_id}").get_data(as_text=True)
    expected = {
        3: "Unknown service centre “laundry office”: write its code or its name.",
        4: "The score “7” is not a whole number from 1 to 5.",
        5: "The date “next Tuesday” cannot be read: write it as YYYY-MM-DD.",
        7: "The row has neither a score nor a comment.",
        8: "The response id “Q-1001” is on row 2 already.",
        9: "The score “4.5” is not a whole number from 1 to 5.",
        10: "The date “2026-02-30” cannot be read: write it as YYYY-MM-DD.",
    }
    errors = db.session.execute(select(SurveyImportError).order_by(SurveyImportError.id)).scalars().all()
    assert [e.row_number for e in errors] == sorted(expected)
    for number, message in expected.items():
        assert f'<td data-label="Row">{number}</td><td data-label="Problem">{message}</td>' in page, number
    assert responses_count() == 0  # a dry run

    item = run(client, import_id, "import")
    assert (item.rows_new, item.rows_error) == (1, 7)
    assert responses_count() == 1


def test_a_bad_mapping_or_file_is_refused_with_a_message_and_changes_nothing(app, world):
    client = client_for(app, world, "leadership")
    response = post_form(client, "/surveys/import", {"survey": "S", "file": (io.BytesIO(b"MZ\x90\x00binary"), "x.xlsx")},
                         content_type="multipart/form-data", follow_redirects=True)
    assert "x.xlsx is not an xlsx workbook, whatever its name says." in response.get_data(as_text=True)
    response = post_form(client, "/surveys/import", {"survey": "S", "file": (io.BytesIO(b"a,b\n1,2\n"), "x.pdf")},
                         content_type="multipart/form-data", follow_redirects=True)
    assert "x.pdf is not a CSV or xlsx file." in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SurveyImport)).scalar_one() == 0

    import_id = upload(client, csv_bytes(), "autumn.csv")
    response = post_form(client, f"/surveys/imports/{import_id}/mapping",
                         {**MAPPING, "col_centre": "", "action": "import"}, follow_redirects=True)
    assert ("Choose the column that names the service centre, or one centre for the whole file."
            in response.get_data(as_text=True))
    db.session.rollback()
    assert db.session.get(SurveyImport, import_id).status is ImportStatus.UPLOADED
    assert responses_count() == 0


def test_survey_files_may_exceed_the_photo_limit_but_not_their_own(app, world):
    data = csv_bytes(rows=ROWS * 40)  # some 8 KB
    limits = {k: app.config[k] for k in ("MAX_CONTENT_LENGTH", "SURVEY_MAX_BYTES")}
    app.config.update(MAX_CONTENT_LENGTH=4000, SURVEY_MAX_BYTES=100_000)
    try:
        client = client_for(app, world, "leadership")
        upload(client, data, "big.csv")  # over the application's limit: still taken
        app.config["SURVEY_MAX_BYTES"] = 5000
        response = post_form(client, "/surveys/import", {"survey": "S", "file": (io.BytesIO(data), "big.csv")},
                             content_type="multipart/form-data", follow_redirects=True)
        assert "The file is larger than 0.00477 MB." in response.get_data(as_text=True)
    finally:
        app.config.update(limits)
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SurveyImport)).scalar_one() == 1
    assert len(list(surveys.upload_dir().iterdir())) >= 1


def test_a_run_whose_worker_died_can_be_started_again(app, world):
    import_id = service_upload(world, csv_bytes(), "autumn.csv")
    leader = world.users["leadership"]
    surveys.start_run(import_id, columns=COLUMNS, settings=SETTINGS, dry_run=False, actor=leader, now=utcnow(),
                      inline=False)
    assert surveys.execute_run(import_id, batch_size=2, clock=lambda: T0) is not None
    item = db.session.get(SurveyImport, import_id)
    item.status = ImportStatus.RUNNING  # as a worker killed mid-way leaves it
    db.session.commit()
    with pytest.raises(Conflict):
        surveys.start_run(import_id, columns=COLUMNS, settings=SETTINGS, dry_run=False, actor=leader,
                          now=T0 + timedelta(minutes=5))
    again = surveys.start_run(import_id, columns=COLUMNS, settings=SETTINGS, dry_run=False, actor=leader,
                              now=T0 + timedelta(minutes=11))
    assert (again.status, again.rows_new, again.rows_duplicate) == (ImportStatus.DONE, 0, 5)
    assert surveys.execute_run(import_id) is None  # a second delivery of the task claims nothing


def test_the_demo_seed_adds_its_survey_once(app, world):
    assert surveys.seed_demo(utcnow()) == 5  # the answers about the test world's two centres
    assert surveys.seed_demo(utcnow()) == 0
    assert responses_count() == 5


def test_a_gb18030_csv_from_chinese_excel_reads_like_utf8(app, world):
    rows = [["Q-9", "2026-10-09", "学生", "宿舍管理中心", "热水", "1", "晚上十点以后没有热水。"]]
    import_id = service_upload(world, csv_bytes(rows=rows, encoding="gb18030"), "gbk.csv")
    surveys.start_run(import_id, columns=COLUMNS, settings=SETTINGS, dry_run=False,
                      actor=world.users["leadership"], now=utcnow())
    [response] = db.session.execute(select(SurveyResponse)).scalars().all()
    assert (response.topic, response.comment, response.centre_id) == ("热水", "晚上十点以后没有热水。",
                                                                      world.centres["dorm"].id)


# ---------------------------------------------------------------- idempotent re-import, CSV and xlsx


def test_importing_the_same_rows_again_from_csv_or_xlsx_adds_nothing(app, world):
    client = client_for(app, world, "leadership")
    first = run(client, upload(client, csv_bytes(), "autumn.csv"), "import")
    assert first.rows_new == 5 and responses_count() == 5

    again = run(client, upload(client, csv_bytes(), "autumn-again.csv"), "import")
    assert (again.rows_new, again.rows_duplicate) == (0, 5)

    # The same answers saved as a workbook (numbers as numbers) are the same rows.
    as_xlsx = run(client, upload(client, xlsx_bytes(), "autumn.xlsx"), "dry_run")
    assert (as_xlsx.rows_new, as_xlsx.rows_duplicate, as_xlsx.rows_error) == (0, 5, 0)
    assert responses_count() == 5

    # Another survey with the same response ids is another set of responses.
    other = run(client, upload(client, csv_bytes(), "spring.csv", survey="Spring survey 2027"), "import")
    assert other.rows_new == 5 and responses_count() == 10


def test_rows_without_an_id_are_told_apart_by_how_often_they_occur(app, world):
    anonymous = [r[1:] for r in ROWS[:2]] + [ROWS[1][1:]]  # the second answer given twice, by two people
    header = HEADER[1:]
    columns = {k: v for k, v in COLUMNS.items() if k != "response_id"}
    import_id = service_upload(world, csv_bytes(header, anonymous), "anon.csv")
    item = surveys.start_run(import_id, columns=columns, settings=SETTINGS, dry_run=False,
                             actor=world.users["leadership"], now=utcnow())
    assert (item.rows_new, item.rows_duplicate) == (3, 0)
    # The same file again: each of the three is recognised, the twin rows too.
    import_id = service_upload(world, csv_bytes(header, anonymous), "anon.csv")
    item = surveys.start_run(import_id, columns=columns, settings=SETTINGS, dry_run=False,
                             actor=world.users["leadership"], now=utcnow())
    assert (item.rows_new, item.rows_duplicate) == (0, 3)
    # A later export with one more identical answer adds just that one.
    import_id = service_upload(world, csv_bytes(header, anonymous + [ROWS[1][1:]]), "anon-later.csv")
    item = surveys.start_run(import_id, columns=columns, settings=SETTINGS, dry_run=False,
                             actor=world.users["leadership"], now=utcnow())
    assert (item.rows_new, item.rows_duplicate) == (1, 3)
    assert responses_count() == 4


def test_an_xlsx_file_with_date_cells_imports(app, world):
    client = client_for(app, world, "leadership")
    item = run(client, upload(client, xlsx_bytes(dates=True), "autumn.xlsx"), "import")
    assert (item.rows_new, item.rows_error) == (5, 0)
    first = db.session.execute(select(SurveyResponse).where(SurveyResponse.response_ref == "Q-1001")).scalar_one()
    assert first.submitted_on == date(2026, 10, 8) and first.score == 2


# ---------------------------------------------------------------- who may do what


def test_a_centre_head_imports_and_reads_only_the_own_centres_responses(app, world):
    head = client_for(app, world, "dorm_head")
    item = run(head, upload(head, csv_bytes(), "autumn.csv"), "import")
    assert (item.rows_new, item.rows_error) == (3, 2)
    errors = db.session.execute(select(SurveyImportError).order_by(SurveyImportError.row_number)).scalars().all()
    assert [e.row_number for e in errors] == [2, 3]
    page = head.get(f"/surveys/imports/{item.id}").get_data(as_text=True)
    assert "The row is about the centre “repairs”: you may import responses for your own centre only." in page

    # Leadership imports the rest; each head then reads the own centre's only.
    leader = client_for(app, world, "leadership")
    run(leader, upload(leader, csv_bytes(), "autumn.csv"), "import")
    assert responses_count() == 5
    repairs_head = client_for(app, world, "centre_head")
    page = repairs_head.get("/surveys/").get_data(as_text=True)
    assert "2 responses" in page and "drips onto the desk" in page and "No hot water" not in page
    dorm_response = db.session.execute(
        select(SurveyResponse.id).where(SurveyResponse.response_ref == "Q-1003")).scalar_one()
    assert repairs_head.get(f"/surveys/responses/{dorm_response}").status_code == 404
    assert head.get(f"/surveys/responses/{dorm_response}").status_code == 200
    # An import is its uploader's (and leadership's): another head does not see it.
    assert repairs_head.get(f"/surveys/imports/{item.id}").status_code == 404
    assert leader.get("/surveys/").get_data(as_text=True).count('name="response"') == 5


@pytest.mark.parametrize("role", ["requester", "technician", "dorm_technician", "dispatcher"])
def test_requesters_technicians_and_dispatchers_see_no_survey_data(app, world, role):
    import_id = service_upload(world, csv_bytes(), "autumn.csv")
    surveys.start_run(import_id, columns=COLUMNS, settings=SETTINGS, dry_run=False, actor=world.users["leadership"],
                      now=utcnow())
    response_id = db.session.execute(select(func.min(SurveyResponse.id))).scalar_one()
    client = client_for(app, world, role)
    for path in ("/surveys/", f"/surveys/responses/{response_id}", "/surveys/import", f"/surveys/imports/{import_id}",
                 f"/surveys/to-item?response={response_id}"):
        assert client.get(path).status_code == 403, path
    assert "/surveys/" not in client.get("/notifications").get_data(as_text=True)
    with pytest.raises(Exception) as refused:
        surveys.upload(io.BytesIO(csv_bytes()), "x.csv", "S", actor=world.users[role], now=utcnow())
    assert "You may not import survey responses." in str(refused.value)


# ---------------------------------------------------------------- responses -> rectification item


def _imported(world) -> dict[str, int]:
    import_id = service_upload(world, csv_bytes(), "autumn.csv")
    surveys.start_run(import_id, columns=COLUMNS, settings=SETTINGS, dry_run=False, actor=world.users["leadership"],
                      now=utcnow())
    return dict(db.session.execute(select(SurveyResponse.response_ref, SurveyResponse.id)).all())


def test_two_responses_become_one_item_and_each_side_shows_the_other(app, world):
    ids = _imported(world)
    head = client_for(app, world, "dorm_head")
    chosen = [ids["Q-1003"], ids["Q-1004"]]
    page = head.get(f"/surveys/to-item?response={chosen[0]}&response={chosen[1]}").get_data(as_text=True)
    assert "Survey: Hot water" in page and "No hot water after 22:00" in page
    due = (date.today() + timedelta(days=20)).isoformat()
    response = post_form(head, "/surveys/to-item", {
        "response": chosen, "centre_id": world.centres["dorm"].id, "title": "Evening hot water in building 3",
        "description": "Students report no hot water after 22:00; fix the boiler schedule.",
        "responsible_id": world.users["dorm_head"].id, "due_on": due, "priority": "high", "source_ref": "",
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    db.session.rollback()
    item = db.session.execute(select(RectificationItem)).scalar_one()
    assert response.headers["Location"].endswith(f"/rectification/{item.reference}")
    assert item.source is Source.SURVEY and f"#{chosen[0]}" in item.source_ref
    linked = db.session.execute(select(SurveyResponse).where(SurveyResponse.rectification_item_id == item.id)
                                ).scalars().all()
    assert sorted(r.id for r in linked) == sorted(chosen)
    assert all(r.linked_by_id == world.users["dorm_head"].id for r in linked)

    leader = client_for(app, world, "leadership")
    item_page = leader.get(f"/rectification/{item.reference}").get_data(as_text=True)
    assert 'id="survey-responses"' in item_page
    for response_id in chosen:
        assert f'href="/surveys/responses/{response_id}"' in item_page
    response_page = head.get(f"/surveys/responses/{chosen[0]}").get_data(as_text=True)
    assert f'href="/rectification/{item.reference}"' in response_page
    assert "Evening hot water in building 3" in response_page
    listing = head.get("/surveys/?linked=yes").get_data(as_text=True)
    assert "2 responses" in listing and item.reference in listing


def test_a_response_already_in_an_item_is_refused_and_no_second_item_is_opened(app, world):
    ids = _imported(world)
    leader = world.users["leadership"]
    due = date.today() + timedelta(days=10)

    def new(title):
        return ledger.NewItem(centre_id=world.centres["dorm"].id, title=title, description="Fix the hot water.",
                              responsible_id=world.users["dorm_head"].id, due_on=due)

    first = surveys.create_item([ids["Q-1003"]], new("First"), actor=leader, now=utcnow())
    with pytest.raises(Conflict) as refused:
        surveys.create_item([ids["Q-1004"], ids["Q-1003"]], new("Second"), actor=leader, now=utcnow())
    assert f"belongs to item {first.reference} already" in str(refused.value)
    assert db.session.execute(select(func.count()).select_from(RectificationItem)).scalar_one() == 1
    assert db.session.get(SurveyResponse, ids["Q-1004"]).rectification_item_id is None


def test_a_refused_item_links_no_response(app, world):
    ids = _imported(world)
    bad = ledger.NewItem(centre_id=world.centres["dorm"].id, title="", description="Fix it.",
                         responsible_id=world.users["dorm_head"].id, due_on=date.today() + timedelta(days=5))
    with pytest.raises(ValidationFailed):
        surveys.create_item([ids["Q-1003"]], bad, actor=world.users["leadership"], now=utcnow())
    assert db.session.get(SurveyResponse, ids["Q-1003"]).rectification_item_id is None
    # A head of another centre cannot even name the response.
    ok = ledger.NewItem(centre_id=world.centres["repairs"].id, title="T", description="Fix it.",
                        responsible_id=world.users["centre_head"].id, due_on=date.today() + timedelta(days=5))
    with pytest.raises(ValidationFailed) as hidden:
        surveys.create_item([ids["Q-1003"]], ok, actor=world.users["centre_head"], now=utcnow())
    assert f"No survey response #{ids['Q-1003']} that you can see." in str(hidden.value)
    assert db.session.execute(select(func.count()).select_from(RectificationItem)).scalar_one() == 0


# ---------------------------------------------------------------- a large file through a real worker


artifacts, make_system = workers.artifacts, workers.make_system
smtp_sink = workers.smtp_sink

LARGE_ROWS = 6000


def large_csv(rows: int = LARGE_ROWS) -> bytes:
    centres = ["repairs", "dorm"]
    topics = ["Hot water", "Air-conditioning", "Keys", "Cleaning", "Noise"]
    body = []
    for n in range(rows):
        body.append([f"L-{n:06d}", (date(2026, 9, 1) + timedelta(days=n % 60)).isoformat(), "student",
                     centres[n % 2], topics[n % 5], str(1 + n % 5),
                     f"Answer {n}: " + ("the shower in my room is cold at night. " * (1 + n % 3))])
    return csv_bytes(rows=body)


@pytest.mark.worker
def test_a_large_file_is_imported_by_a_worker_with_progress_and_again_adds_nothing(make_system):
    from tests.factories import build_world

    system = make_system(settings={"TRACKER_SURVEY_INLINE_MAX_BYTES": "10000"})
    worker = system.start_worker(ready=False)
    world = build_world()
    data = large_csv()
    leader = world.users["leadership"]
    import_id = surveys.upload(io.BytesIO(data), "large.csv", "Dormitory survey 2026", actor=leader, now=T0).id
    worker.wait_ready()
    item = surveys.start_run(import_id, columns=COLUMNS, settings=SETTINGS, dry_run=False, actor=leader,
                             now=utcnow())
    assert item.status is ImportStatus.PENDING  # too large to run in the request: handed to the worker
    table = SurveyImport.__table__
    seen: list[int] = []

    def finished():
        [row] = system.rows(select(table.c.status, table.c.progress_done, table.c.progress_total)
                            .where(table.c.id == import_id))
        if row.progress_total:
            seen.append(int(100 * row.progress_done / row.progress_total))
        return row.status in ("done", "failed") and row

    system.wait_until("the import done by the worker", finished, timeout=120)
    [done] = system.rows(select(table).where(table.c.id == import_id))
    assert (done.status, done.rows_total, done.rows_new, done.rows_error) == ("done", LARGE_ROWS, LARGE_ROWS, 0)
    assert done.progress_done == done.progress_total == len(data)
    assert system.count(SurveyResponse) == LARGE_ROWS
    assert [t["result"]["new"] for t in worker.tasks("surveys.run_import") if t["what"] == "succeeded"] == [LARGE_ROWS]
    system.figure("survey import, 6000 CSV rows through a worker",
                  f"{(done.finished_at - done.started_at).total_seconds():.2f} s; progress seen: "
                  f"{sorted(set(seen))[:12]} %")

    # The same file again through the worker: every row is a duplicate.
    system.release()
    again = surveys.upload(io.BytesIO(data), "large.csv", "Dormitory survey 2026", actor=leader, now=T0).id
    surveys.start_run(again, columns=COLUMNS, settings=SETTINGS, dry_run=False, actor=leader, now=utcnow())
    system.wait_until("the second import done", lambda: system.rows(
        select(table.c.status).where(table.c.id == again, table.c.status == "done")), timeout=120)
    [second] = system.rows(select(table).where(table.c.id == again))
    assert (second.rows_new, second.rows_duplicate) == (0, LARGE_ROWS)
    assert system.count(SurveyResponse) == LARGE_ROWS
    assert worker.errors() == []


def test_the_survey_pages_render_in_chinese(app, world):
    ids = _imported(world)
    import_id = db.session.execute(select(func.max(SurveyImport.id))).scalar_one()
    client = client_for(app, world, "dorm_head")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    for path in ("/surveys/", f"/surveys/responses/{ids['Q-1003']}", "/surveys/import", "/surveys/imports",
                 f"/surveys/to-item?response={ids['Q-1003']}"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert 'lang="zh-CN"' in response.get_data(as_text=True)
    leader = client_for(app, world, "leadership")
    leader.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    for path in (f"/surveys/imports/{import_id}", f"/surveys/imports/{import_id}/mapping"):
        assert leader.get(path).status_code == 200, path


def test_a_semicolon_or_tab_separated_export_is_read_by_its_separator(app, world):
    for separator, name in ((";", "semicolons.csv"), ("\t", "tabs.csv")):
        text = "\n".join(separator.join(row) for row in [HEADER, *ROWS[:2]]).replace("Q-100", f"{name}-")
        import_id = service_upload(world, text.encode(), name)
        item = surveys.start_run(import_id, columns=COLUMNS, settings=SETTINGS, dry_run=False,
                                 actor=world.users["leadership"], now=utcnow())
        assert (item.rows_new, item.rows_error) == (2, 0), name
