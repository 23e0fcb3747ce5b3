"""The Boston 311 example: a slice of the city's real records imported with the built-in mapping, and
the SLA figures of the app's reports compared with figures computed from the raw files alone.

The slice (``tests/data/boston311``: nine of the 158 files, unmodified,
1,975 rows, six departments) is copied from
``../shared/data/boston-311-2015/raw``; the full figures are in
docs/import.md. The raw side is ``scripts/boston311_figures.py``: plain
``csv`` and ``datetime`` over the city's columns, no application code.
"""

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from scripts import boston311_figures as raw_figures
from tests.factories import T0
from tracker.models import RunStatus, Ticket, TicketSla
from tracker.services.requests import importer

SLICE = Path(__file__).resolve().parents[1] / "data" / "boston311"
# 2016-01-13 00:00 in Boston (EST): the night of the city's export.
AS_OF = datetime(2016, 1, 13, 5, 0, tzinfo=UTC)


def _import(db):
    importer.ensure_builtin_mappings(now=T0)
    files = [{"name": p.name, "path": str(p)} for p in sorted(SLICE.glob("*.csv.gz"))]
    assert len(files) == 9
    run = importer.create_run(mapping=importer.mapping_by_code("boston-311"), files=files, dry_run=False,
                              as_of=AS_OF, actor=None, now=T0)
    done = importer.execute_run(run.id)
    assert done.status is RunStatus.DONE, done.message
    return done


def test_boston_slice_sla_figures_match_the_raw_files_and_survive_a_reimport(db):
    raw = raw_figures.compute([SLICE])
    # The raw computation itself reproduces the city's own on-time flag.
    assert all(d.city_agrees == d.city_flagged for d in raw.values())
    done = _import(db)
    assert (done.rows_total, done.rows_imported, done.rows_error) == (1975, 1975, 0)
    app = raw_figures.app_figures(AS_OF)
    assert raw_figures.differences(raw, app) == []
    # Spot-check the figures themselves, so that "no differences" cannot mean "both empty".
    assert app["Inspectional Services"] == {"tickets": 995, "closed": 533, "open": 462, "met": 409,
                                            "breached": 450, "met_percent": 47.61, "city_on_time_percent": 54.77}
    assert app["Transportation - Traffic Division"]["met_percent"] == 52.04

    # Imported again: every case is skipped, nothing is added.
    tickets, clocks = (db.session.execute(select(func.count()).select_from(m)).scalar_one() for m in (Ticket, TicketSla))
    again = _import(db)
    assert (again.rows_imported, again.rows_skipped) == (0, 1975)
    assert db.session.execute(select(func.count()).select_from(Ticket)).scalar_one() == tickets == 1975
    assert db.session.execute(select(func.count()).select_from(TicketSla)).scalar_one() == clocks
    assert raw_figures.differences(raw, raw_figures.app_figures(AS_OF)) == []
