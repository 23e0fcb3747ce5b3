"""Imports that survive bad rows (issue 16, robustness): encodings, oversized fields, cut-off rows,
a run that fails half-way, a fresh database, and the time zone of the dashboards' days.

The malformed files are in tests/data/imports/ (the 10 MB field is written by its test).
"""

import gzip
import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests.conftest import csrf_token, post_form
from tests.factories import T0
from tests.integration.test_import import GOOD_ROWS, HEADER, campus_mapping, count, run, ticket, write
from tracker.extensions import db
from tracker.models import DailyStat, ImportRun, RunStatus, StatsDirty, Ticket
from tracker.services.requests import importer

DATA = Path(__file__).parent.parent / "data" / "imports"
AS_OF = datetime(2026, 2, 1, tzinfo=UTC)


def copy(tmp_path, name: str) -> dict:
    target = tmp_path / name
    shutil.copy(DATA / name, target)
    return {"name": name, "path": str(target)}


def errors_of(run_id: int, locale: str = "en") -> dict[int, str]:
    with force_locale(locale):
        return {e.row_number: importer.error_text(e) for e in importer.row_errors(run_id)}


# ---------------------------------------------------------------- one bad row never fails the file


def test_every_unreadable_or_cut_off_row_is_refused_with_its_row_number_and_the_good_rows_import(
        db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    done = run(mapping, [copy(tmp_path, "mixed_bad_rows.csv")])
    # Row 4 holds a quoted field over two lines: still one row, and row 5 is the next one.
    assert (done.rows_total, done.rows_imported, done.rows_error) == (10, 4, 6)
    latin = "The row is not UTF-8; the file looks like Windows-1252 (Latin-1): choose that encoding."
    assert errors_of(done.id) == {
        3: latin,
        5: "The row has 4 of the header's 7 columns: unit, kind, subject missing.",
        6: "opened: “05/01/2026” is not a date in the format %Y-%m-%d %H:%M | iso.",
        8: "Unknown status “lost”: add it to the mapping.",
        9: "Unknown centre “Library”: map it to a centre code, or let the mapping create centres.",
        10: latin,
    }
    zh = errors_of(done.id, "zh_CN")
    assert zh[3] == "该行不是 UTF-8 编码；文件看来是 Windows-1252 (Latin-1)：请选择该编码。"
    assert zh[5] == "该行只有 4 列，表头有 7 列：缺少 unit, kind, subject。"
    assert ticket("olddesk:A2").title == "Pipe noise,\nsecond line"
    assert count(Ticket) == 4


def test_the_chosen_encoding_reads_the_rows_it_refused(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    created = importer.create_run(mapping=mapping, files=[copy(tmp_path, "mixed_bad_rows.csv")], dry_run=False,
                                  as_of=AS_OF, encoding="cp1252", actor=None, now=T0)
    done = importer.execute_run(created.id)
    assert (done.rows_imported, done.rows_error) == (6, 4)
    assert ticket("olddesk:C10").title == "Naïve résumé"
    assert ticket("olddesk:C3").title == "Café sink"


def test_a_gb18030_file_is_detected_and_read_when_chosen(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    dry = run(mapping, [copy(tmp_path, "gb18030.csv")], dry_run=True)
    assert dry.rows_error == 2
    assert errors_of(dry.id) == {
        2: "The row is not UTF-8; the file looks like GB18030: choose that encoding.",
        3: "The row is not UTF-8; the file looks like GB18030: choose that encoding.",
    }
    assert errors_of(dry.id, "zh_CN")[2] == "该行不是 UTF-8 编码；文件看来是 GB18030：请选择该编码。"
    created = importer.create_run(mapping=mapping, files=[copy(tmp_path, "gb18030.csv")], dry_run=False,
                                  as_of=AS_OF, encoding="gb18030", actor=None, now=T0)
    done = importer.execute_run(created.id)
    assert (done.status, done.rows_imported, done.rows_error) == (RunStatus.DONE, 2, 0)
    assert ticket("olddesk:G1").title == "301 水龙头漏水"
    assert ticket("olddesk:G2").title == "宿舍钥匙丢失"


def test_a_utf8_file_read_as_gb18030_is_detected_not_garbled(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    created = importer.create_run(mapping=mapping, files=[copy(tmp_path, "utf8_chinese.csv")], dry_run=False,
                                  as_of=AS_OF, encoding="gb18030", actor=None, now=T0)
    done = importer.execute_run(created.id)
    assert (done.rows_imported, done.rows_error) == (1, 1)  # row 3 is ASCII: the same in both
    assert errors_of(done.id) == {2: "The row is not GB18030; the file looks like UTF-8: choose that encoding."}


def test_an_unknown_encoding_is_refused(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    with pytest.raises(importer.ValidationFailed) as refused:
        importer.create_run(mapping=mapping, files=[copy(tmp_path, "gb18030.csv")], dry_run=True,
                            encoding="ebcdic", actor=None, now=T0)
    assert refused.value.message == "Unknown encoding %(encoding)s: choose one from the list."
    assert count(ImportRun) == 0


def test_a_header_that_is_not_the_chosen_encoding_fails_the_file_naming_row_1(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    path = tmp_path / "header.csv"
    path.write_bytes(HEADER.replace("subject", "sujet_\xe9").encode("latin-1") + GOOD_ROWS[0].encode() + b"\n")
    created = importer.create_run(mapping=mapping, files=[{"name": "header.csv", "path": str(path)}],
                                  dry_run=False, as_of=AS_OF, actor=None, now=T0)
    done = importer.execute_run(created.id)
    assert done.status is RunStatus.FAILED
    assert done.message == ("header.csv, row 1 (the header): The row is not UTF-8; the file looks like "
                            "Windows-1252 (Latin-1): choose that encoding.")


def test_a_10_mb_field_refuses_its_row_only(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    rows = [f"D{n},2026-01-05 09:00,,open,Repairs,Leak,Row {n + 1}" for n in range(1, 7)]  # rows 2-7
    rows.append("D8,2026-01-05 09:00,,open,Repairs,Leak,\"" + "x" * 10_000_000 + "\"")    # row 8
    rows.append("D9,2026-01-05 09:00,,open,Repairs,Leak,After the big one")               # row 9
    done = run(mapping, [write(tmp_path, "big.csv", rows)])
    assert (done.rows_total, done.rows_imported, done.rows_error) == (8, 7, 1)
    assert errors_of(done.id) == {8: "Column 7 holds 10,000,000 characters; a field may hold at most 1,000,000."}
    assert ticket("olddesk:D9").title == "After the big one"


def test_a_field_past_the_csv_limit_refuses_its_row_and_reading_goes_on(db, world, tmp_path, monkeypatch):
    import csv

    monkeypatch.setattr(importer, "FIELD_LIMIT", 1000)
    previous = csv.field_size_limit(2000)
    try:
        rows = [GOOD_ROWS[0], "E3,2026-01-05 09:00,,open,Repairs,Leak,\"" + "y" * 5000 + "\"", GOOD_ROWS[1]]
        done = run(importer.save_mapping(None, campus_mapping(), actor=None, now=T0),
                   [write(tmp_path, "limit.csv", rows)])
    finally:
        csv.field_size_limit(previous)
    assert (done.rows_imported, done.rows_error) == (2, 1)
    assert errors_of(done.id) == {3: "The row cannot be read as CSV (field larger than field limit (2000))."}


def test_the_encoding_is_chosen_on_the_page_and_shown_on_the_run(client, world, login_as):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    login_as("admin")
    form = client.get("/admin/imports/").get_data(as_text=True)
    assert 'value="gb18030"' in form
    response = client.post("/admin/imports/", data={
        "csrf_token": csrf_token(client), "mapping": str(mapping.id), "time_zone": "", "encoding": "gb18030",
        "dry_run": "y", "files": (io.BytesIO((DATA / "gb18030.csv").read_bytes()), "中文.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    created = db.session.execute(select(ImportRun)).scalar_one()
    assert created.settings["encoding"] == "gb18030"
    done = importer.execute_run(created.id)
    assert (done.rows_imported, done.rows_error) == (2, 0)
    page = client.get(f"/admin/imports/runs/{created.id}").get_data(as_text=True)
    assert "GB18030 / GBK" in page
    forged = client.post("/admin/imports/", data={
        "csrf_token": csrf_token(client), "mapping": str(mapping.id), "encoding": "ebcdic",
        "files": (io.BytesIO(b"x"), "a.csv")}, content_type="multipart/form-data")
    assert forged.status_code == 400 and count(ImportRun) == 1


def test_the_command_line_takes_an_encoding(app, db, world, tmp_path):
    importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    source = copy(tmp_path, "gb18030.csv")
    result = app.test_cli_runner().invoke(args=["import-tickets", "--mapping", "old-desk", source["path"]])
    assert "gb18030.csv, row 2: The row is not UTF-8; the file looks like GB18030: choose that encoding." \
        in result.output
    result = app.test_cli_runner().invoke(args=["import-tickets", "--mapping", "old-desk", "--encoding", "gb18030",
                                                source["path"]])
    assert result.exit_code == 0, result.output
    assert "2 imported" in result.output and ticket("olddesk:G2").title == "宿舍钥匙丢失"


# ---------------------------------------------------------------- a run that stops half-way


def test_a_run_that_fails_half_way_leaves_the_summary_of_what_it_committed_current(db, world, tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    good = write(tmp_path, "a.csv", GOOD_ROWS[:3])
    # The second file is cut off in the middle of its gzip stream: reading it fails the run.
    whole = gzip.compress((HEADER + "".join(f"F{n},2026-01-09 10:00,,open,Repairs,Leak,Row\n" for n in range(3000)))
                          .encode())
    broken = tmp_path / "b.csv.gz"
    broken.write_bytes(whole[: len(whole) // 2])
    created = importer.create_run(mapping=mapping, files=[good, {"name": "b.csv.gz", "path": str(broken)}],
                                  dry_run=False, as_of=AS_OF, actor=None, now=T0)
    failed = importer.execute_run(created.id, batch_size=100)
    assert failed.status is RunStatus.FAILED and "b.csv.gz, after row" in failed.message
    committed = count(Ticket)
    assert committed >= 3
    # The dashboards' summary counts what was committed, with nothing left waiting.
    assert count(StatsDirty) == 0
    received = db.session.execute(select(func.coalesce(func.sum(DailyStat.received), 0))).scalar_one()
    assert received == committed
    # Running again with the file whole imports only the rows not committed before.
    broken.write_bytes(whole)
    again = importer.run_again(created.id, dry_run=False, actor=None, now=T0)
    done = importer.execute_run(again.id, batch_size=100)
    assert done.status is RunStatus.DONE
    assert (done.rows_imported, done.rows_skipped) == (3003 - committed, committed)
    assert count(Ticket) == 3003
    assert db.session.execute(select(func.sum(DailyStat.received))).scalar_one() == 3003


def test_a_worker_killed_before_the_summary_leaves_the_dashboards_saying_days_wait(client, world, login_as,
                                                                                    tmp_path, monkeypatch):
    class Killed(BaseException):
        """What the process sees of a SIGKILL: nothing after this point runs, no failure path."""

    def killed(self):
        raise Killed

    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    created = importer.create_run(mapping=mapping, files=[write(tmp_path, "a.csv", GOOD_ROWS)], dry_run=False,
                                  as_of=AS_OF, actor=None, now=T0)
    monkeypatch.setattr(importer._Run, "_refresh_summary", killed)
    with pytest.raises(Killed):
        importer.execute_run(created.id)
    db.session.rollback()
    waiting = count(StatsDirty)
    assert count(Ticket) == 4 and waiting > 0
    login_as("admin")
    page = client.get("/dashboard?first=2026-01-01&last=2026-01-31").get_data(as_text=True)
    assert f"{waiting} days are waiting to be counted again." in page


# ---------------------------------------------------------------- a fresh database


def test_the_command_on_an_empty_database_says_to_migrate_first_then_works(app_config, tmp_path):
    from flask_migrate import upgrade

    from tracker import create_app

    fresh = create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.db'}"))
    source = tmp_path / "Abandoned Bicycle.csv.gz"
    shutil.copy(Path(__file__).parent.parent / "data" / "boston311" / source.name, source)
    runner = fresh.test_cli_runner()
    with fresh.app_context():
        result = runner.invoke(args=["import-tickets", "--preset", "boston-311", "--dry-run", str(source)])
        assert result.exit_code == 1
        assert "the database is empty, not at the latest migration: run `flask --app wsgi db upgrade heads` first" \
            in result.output
        upgrade(revision="heads")
        result = runner.invoke(args=["import-tickets", "--preset", "boston-311", "--dry-run", str(source)])
        assert result.exit_code == 0, result.output
        assert "done:" in result.output
        db.session.remove()
        db.engine.dispose()


# ---------------------------------------------------------------- the time zone of the days


def test_the_run_page_counts_the_requests_filed_on_another_day_in_the_campus_zone(client, world, login_as,
                                                                                  tmp_path):
    mapping = importer.save_mapping(None, campus_mapping(time_zone="America/New_York"), actor=None, now=T0)
    done = run(mapping, [write(tmp_path, "ny.csv", [
        "N1,2026-01-05 20:00,,open,Repairs,Leak,Evening in New York: next morning in Shanghai",
        "N2,2026-01-05 09:00,,open,Repairs,Leak,Morning in New York: same evening in Shanghai",
        "N3,2025-12-31 23:00,,open,Repairs,Leak,New Year's Eve: 2026 in Shanghai",
    ])])
    assert done.report["other_day"] == 2
    login_as("admin")
    page = client.get(f"/admin/imports/runs/{done.id}").get_data(as_text=True)
    assert ("2 requests were filed on another day in Asia/Shanghai, the zone of the dashboards’ days, than in "
            "America/New_York, the source’s zone: the dashboards count them on that other day.") in page
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Days in Asia/Shanghai time." in dashboard
    post_form(client, "/language", {"locale": "zh_CN", "next": "/dashboard"})
    assert "日期按 Asia/Shanghai 时间划分。" in client.get("/dashboard").get_data(as_text=True)
    page = client.get(f"/admin/imports/runs/{done.id}").get_data(as_text=True)
    assert "2 个请求在 Asia/Shanghai（仪表板按日统计所用的时区）与在 America/New_York（来源的时区）中的提交日期不同" in page


def _sqlite_settings() -> tuple[int, int]:
    connection = db.session.connection()
    return (connection.exec_driver_sql("PRAGMA cache_size").scalar(),
            connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar())


def test_an_import_writes_on_sqlites_bulk_settings_and_its_connections_get_their_own_back(
        db, world, tmp_path, monkeypatch):
    from sqlalchemy import event

    from tracker.services import bulk

    if db.engine.dialect.name != "sqlite":
        # PostgreSQL has no such settings: an import sends it no PRAGMA.
        sent = []

        def note(conn, cursor, statement, *args):
            sent.append(statement)

        event.listen(db.engine, "before_cursor_execute", note)
        try:
            mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
            run(mapping, [write(tmp_path, "a.csv", GOOD_ROWS)], batch_size=2)
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        assert sent and not [s for s in sent if "PRAGMA" in s.upper()]
        return

    db.session.commit()
    before = _sqlite_settings()
    assert before != (bulk.SQLITE_BULK_PRAGMAS["cache_size"], bulk.SQLITE_BULK_PRAGMAS["wal_autocheckpoint"])
    seen = []
    insert = importer._Run._insert

    def watched(self, batch):
        seen.append(_sqlite_settings())
        return insert(self, batch)

    monkeypatch.setattr(importer._Run, "_insert", watched)
    mapping = importer.save_mapping(None, campus_mapping(), actor=None, now=T0)
    run(mapping, [write(tmp_path, "a.csv", GOOD_ROWS)], batch_size=2)
    assert len(seen) >= 2  # every batch's transaction
    assert set(seen) == {(bulk.SQLITE_BULK_PRAGMAS["cache_size"], bulk.SQLITE_BULK_PRAGMAS["wal_autocheckpoint"])}
    # Outside the import every connection of the pool is back on its own settings.
    db.session.commit()
    for _ in range(3):
        with db.engine.begin() as connection:
            assert (connection.exec_driver_sql("PRAGMA cache_size").scalar(),
                    connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()) == before
    assert _sqlite_settings() == before
