"""daily_centre_stats: daily_stats summed per day and centre, kept by the refresh, read by the overview.

The rollup must equal ``SELECT day, centre_id, sum(...) FROM daily_stats
GROUP BY day, centre_id`` after anything that rewrites daily_stats, and
the overview's figures read from it must be those read from daily_stats
under every filter (docs/dashboards.md, "A summary per day and centre").
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, inspect, select

from tests.factories import make_ticket
from tests.integration import test_migrations
from tests.integration.test_import import GOOD_ROWS, campus_mapping, run, write
from tracker.domain.workflow import Action, Status
from tracker.extensions import db
from tracker.models import DailyCentreStat, DailyStat, StatsDirty
from tracker.models.stats import SUMMED_COLUMNS
from tracker.services.insight import now_counts, reports, stats
from tracker.services.insight.overview import figures as overview_figures
from tracker.services.ledger import feedback
from tracker.services.requests import importer
from tracker.services.requests import tickets as ticket_service
from tracker.services.sla import sweep as sla_sweep
from tracker.services.sla.standards import promises

empty_database_url = test_migrations.empty_database_url

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 15, 20, 0, tzinfo=SH)


def import_cases(world, tmp_path) -> None:
    saved = importer.save_mapping(None, campus_mapping(), actor=world.users["admin"], now=NOW)
    run(saved, [write(tmp_path, "cases.csv", GOOD_ROWS)])


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SH)


def rollup() -> dict:
    table = DailyCentreStat.__table__
    rows = db.session.execute(select(table.c.day, table.c.centre_id, *(table.c[c] for c in SUMMED_COLUMNS)))
    return {(day, centre): tuple(values) for day, centre, *values in rows}


def grouped() -> dict:
    table = DailyStat.__table__
    query = select(table.c.day, table.c.centre_id, *(func.sum(table.c[c]) for c in SUMMED_COLUMNS)).group_by(
        table.c.day, table.c.centre_id
    )
    return {(day, centre): tuple(int(v) for v in values) for day, centre, *values in db.session.execute(query)}


def assert_rollup_equal() -> None:
    assert db.session.execute(select(func.count()).select_from(StatsDirty)).scalar_one() == 0
    stored, expected = rollup(), grouped()
    assert stored.keys() == expected.keys()
    for key, values in expected.items():
        assert dict(zip(SUMMED_COLUMNS, stored[key], strict=True)) == dict(
            zip(SUMMED_COLUMNS, values, strict=True)
        ), key


@pytest.fixture
def history(db, world, tmp_path):
    u = world.users
    filed = {
        "water_closed": make_ticket(world, status=Status.CLOSED, now=at(2, 9)),
        "water_resolved": make_ticket(world, status=Status.RESOLVED, category="water", now=at(3, 10)),
        "power_open": make_ticket(world, status=Status.ACCEPTED, category="power", now=at(3, 11)),
        "power_low": make_ticket(world, category="power", priority="low", now=at(9, 9)),
        "keys_cancelled": make_ticket(world, status=Status.CANCELLED, category="keys", now=at(9, 10)),
        "water_hold": make_ticket(world, status=Status.ON_HOLD, category="water", priority="low", now=at(10, 9)),
        "keys_late": make_ticket(world, category="keys", now=at(12, 9)),
    }
    feedback.give(filed["water_resolved"].id, rating=2, comment="Slow.", actor=u["requester"], now=at(3, 15))
    sla_sweep.sweep_due(NOW)
    stats.refresh_all()
    now_counts.recount(NOW)
    db.session.commit()
    return filed


def test_the_rollup_is_daily_stats_summed_per_day_and_centre_after_every_kind_of_write(history, world, tmp_path):
    assert_rollup_equal()
    assert len({centre for _, centre in rollup()}) == 2

    # A transition moves figures between days: the refresh rewrites both summaries for the marked pairs.
    ticket_service.transition(history["water_hold"].id, Action.RESUME, actor=world.users["technician"],
                              now=at(13, 9))
    ticket_service.transition(history["keys_late"].id, Action.CANCEL, actor=world.users["requester"],
                              now=at(14, 9), reason="Found it.")
    before = rollup()
    stats.refresh_all()
    assert rollup() != before
    assert_rollup_equal()

    # An import writes its tickets, then its summary phase refreshes their days.
    import_cases(world, tmp_path)
    january = {key for key in rollup() if key[0] < date(2026, 2, 1)}
    assert january
    assert_rollup_equal()

    now_counts.recount(NOW)
    db.session.commit()
    assert_rollup_equal()


def test_a_pair_computed_again_gets_its_rollup_row_again(history, world):
    ticket = history["water_resolved"]
    day = reports.local_day(ticket.created_at)
    assert (day, ticket.centre_id) in rollup()
    db.session.execute(DailyStat.__table__.delete())  # as if the day's rows were gone
    db.session.commit()
    stats.mark([(day, ticket.centre_id)])
    db.session.commit()
    stats.refresh_all()
    # The pair was computed again from the source: its rollup row is rewritten, equal to its new rows.
    assert rollup()[(day, ticket.centre_id)] == grouped()[(day, ticket.centre_id)]


def _filters(world) -> list[reports.Filters]:
    spans = [(date(2026, 3, 9), date(2026, 3, 15)), (date(2026, 1, 1), date(2026, 3, 15))]
    scopes = [
        {},
        {"centre_id": world.centres["repairs"].id},
        {"centre_id": world.centres["dorm"].id},
        {"category_id": world.categories["power"].id},
        {"centre_id": world.centres["repairs"].id, "category_id": world.categories["water"].id},
        {"priority": "low"},
        {"priority": "normal"},
        {"centre_id": world.centres["dorm"].id, "priority": "normal"},
    ]
    return [reports.Filters(first=first, last=last, **scope) for first, last in spans for scope in scopes]


def test_the_overview_reads_the_same_figures_from_either_summary_under_every_filter(
    history, world, tmp_path, monkeypatch
):
    import_cases(world, tmp_path)
    centre_ids = [world.centres["repairs"].id, world.centres["dorm"].id]
    filters = _filters(world)
    assert reports.day_summary(filters[0]) is DailyCentreStat
    assert reports.day_summary(filters[3]) is DailyStat
    assert reports.day_summary(filters[5]) is DailyStat

    def read() -> list:
        return [
            (overview_figures.period_figures(f), promises.compare(f, centre_ids, NOW)) for f in filters
        ]

    from_rollup = read()
    monkeypatch.setattr(overview_figures, "day_summary", lambda filters: DailyStat)
    monkeypatch.setattr(promises, "day_summary", lambda filters: DailyStat)
    from_daily_stats = read()
    assert any(period.current["received"] for period, _ in from_daily_stats)
    assert any(comparisons for _, comparisons in from_daily_stats)
    for f, mine, theirs in zip(filters, from_rollup, from_daily_stats, strict=True):
        assert mine == theirs, f


def test_the_migration_fills_the_rollup_from_daily_stats(app_config, empty_database_url):
    from flask_migrate import downgrade, upgrade

    from tests.factories import build_world
    from tracker import create_app

    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade(revision="heads")
        world = build_world()
        make_ticket(world, status=Status.CLOSED, now=at(2, 9))
        make_ticket(world, category="power", priority="low", now=at(2, 10))
        make_ticket(world, status=Status.CANCELLED, category="keys", now=at(3, 9))
        stats.refresh_all()
        expected = grouped()
        assert len(expected) >= 2 and rollup() == expected
        db.session.remove()
        downgrade(revision="0034_nowsnap")
        assert "daily_centre_stats" not in inspect(db.engine).get_table_names()
        upgrade(revision="heads")
        assert rollup() == expected
        db.session.remove()
        db.engine.dispose()
