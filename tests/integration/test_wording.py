"""Words as readers meet them: one meaning per translation, Chinese punctuation, flashes that say what happened."""

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.browser.texts import texts
from tests.conftest import post_form
from tests.factories import T0, make_ticket
from tracker.domain.workflow import Status
from tracker.models import Ticket


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return html.unescape(response.get_data(as_text=True))


def _read_in(client, locale: str) -> None:
    post_form(client, "/language", {"locale": locale})


def test_the_unread_mark_of_a_notice_is_not_the_status_new(client, world, login_as):
    """"New" has two meanings: a request's status (新建) and an unread notice (未读)."""
    make_ticket(world, status=Status.ASSIGNED)
    filed = make_ticket(world)  # stays new
    login_as("technician")
    _read_in(client, "zh_CN")
    marks = re.findall(r'<span class="unread-mark">([^<]*)</span>', _page(client, "/notifications"))
    assert marks == ["未读"]

    login_as("requester")
    _read_in(client, "zh_CN")
    status = re.search(r'<span class="status status-new">([^<]*)</span>', _page(client, f"/tickets/{filed.reference}"))
    assert status.group(1) == "新建"

    _read_in(client, "en")
    post_form(client, "/logout")
    login_as("technician")
    _read_in(client, "en")
    assert re.findall(r'<span class="unread-mark">([^<]*)</span>', _page(client, "/notifications")) == ["New"]


def test_a_label_marked_with_a_context_is_translated_in_its_context(app):
    from flask_babel import force_locale, gettext

    from tracker.domain.i18n import pN_
    from tracker.models import RunStatus
    from tracker.web.gettext import label_text
    from tracker.web.imports import STATUS_LABELS

    with app.test_request_context(), force_locale("zh_CN"):
        assert label_text(STATUS_LABELS[RunStatus.RUNNING]) == "进行中"  # a job, not a clock
        assert gettext("Running") == "计时中"
        assert label_text(pN_("unread notice", "New")) == "未读"
        assert label_text("New") == "新建"


def test_an_open_rectification_item_is_awaiting_rectification_in_chinese(app):
    """An open item is not started (待整改); "Open" elsewhere is "not done" (未完成)."""
    from flask_babel import force_locale, gettext

    from tracker.domain.rectification import Action, ItemStatus, Relation, TransitionRefused, decide
    from tracker.errors import Conflict
    from tracker.forms.rectification import STATES
    from tracker.web.gettext import label_text
    from tracker.web.rectification import STATUS_LABELS

    with app.test_request_context(), force_locale("zh_CN"):
        assert label_text(STATUS_LABELS[ItemStatus.OPEN]) == "待整改"
        assert gettext("Open") == "未完成"
        assert dict(STATES)["open"] == "待整改"
        with pytest.raises(TransitionRefused) as refused:
            decide(Action.VERIFY, ItemStatus.OPEN, frozenset({Relation.LEADERSHIP}))
        assert "“待整改”" in Conflict(refused.value.message, **refused.value.params).translated()


def test_a_rectification_items_source_is_labelled_source(client, world, login_as):
    login_as("leadership")
    _read_in(client, "zh_CN")
    page = _page(client, "/rectification/new")
    assert "来源" in page and "提出人" not in page


def test_labels_on_a_chinese_page_end_with_a_full_width_colon(client, world):
    from tracker.domain.workflow import Action
    from tracker.services.requests import tickets as ticket_service

    ticket = make_ticket(world, status=Status.IN_PROGRESS)
    ticket_service.transition(ticket.id, Action.RESOLVE, actor=world.users["technician"], now=T0 + timedelta(hours=2),
                              resolution_note="Replaced the washer.", materials_used="垫圈 2 个")
    post_form(client, "/login", {"username": world.users["technician"].username, "password": world.password})
    _read_in(client, "zh_CN")
    page = _page(client, f"/tickets/{ticket.reference}")
    assert re.search(r'<p id="materials-used">所用材料：垫圈 2 个</p>', page)
    text = re.sub(r"<[^>]+>", " ", page)
    assert not re.search(r"[\u4e00-\u9fff]\s*:\s", text), re.findall(r".{12}[\u4e00-\u9fff]\s*:\s.{12}", text)

    _read_in(client, "en")
    assert '<p id="materials-used">Materials used: 垫圈 2 个</p>' in _page(client, f"/tickets/{ticket.reference}")


# ---------------------------------------------------------------- flashes and dates in messages

LOCALES = {"en": "en", "zh": "zh_CN"}


def _flash(client, response) -> str:
    page = _page(client, response.headers["Location"])
    found = re.search(r"<p class=\"flash flash-success\">([^<]*)</p>", page)
    assert found, re.findall(r"<p class=\"flash[^>]*>[^<]*</p>", page)
    return found.group(1)


def _act(client, ticket, action, version, **data):
    return post_form(client, f"/tickets/{ticket.reference}/{action}", {"version": version, **data})


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_ticket_action_flash_says_what_happened(client, db, world, login_as, language):
    t = texts(language)
    technician = world.users["technician"]
    ticket = make_ticket(world)
    login_as("dispatcher")
    _read_in(client, LOCALES[language])
    assigned = _act(client, ticket, "assign", ticket.version, assignee_id=technician.id)
    assert _flash(client, assigned) == t("Assigned to %(name)s.", name=technician.display_name)

    post_form(client, "/logout")
    login_as("technician")
    _read_in(client, LOCALES[language])
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert _flash(client, _act(client, ticket, "accept", ticket.version)) == t("You accepted the request.")
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    held = _act(client, ticket, "hold", ticket.version, hold_reason="waiting_parts")
    assert _flash(client, held) == t("Put on hold: %(reason)s.", reason=t("Waiting for parts"))


@pytest.mark.parametrize(("language", "day"), [("en", "Jan 15, 2027"), ("zh", "2027年1月15日")])
def test_a_new_deadline_is_flashed_in_the_readers_date_format(client, world, login_as, language, day):
    from tracker.services.ledger import rectification

    item = rectification.create_item(
        rectification.NewItem(
            centre_id=world.centres["repairs"].id, title="Shuttle bus leaves too early", description="Too early.",
            responsible_id=world.users["technician"].id, due_on=date(2026, 3, 12), source="complaint_cluster",
            ticket_references=[]),
        actor=world.users["dispatcher"], now=T0)
    login_as("leadership")
    _read_in(client, LOCALES[language])
    moved = post_form(client, f"/rectification/{item.reference}/reschedule",
                      {"version": item.version, "due_on": "2027-01-15", "text": "The bus company asked for time."})
    flash = _flash(client, moved)
    assert flash == texts(language)("Deadline moved to %(day)s.", day=day)
    assert "2027-01-15" not in flash


@pytest.mark.parametrize(("locale", "day", "instant"), [
    ("en", "Nov 30, 2026", "Nov 30, 2026, 2:05\u202fPM"),  # CLDR: a narrow space before PM
    ("zh_CN", "2026年11月30日", "2026年11月30日 14:05"),
])
def test_dates_in_messages_have_one_format_per_language(app, locale, day, instant):
    from flask_babel import force_locale

    from tracker.domain.i18n import N_
    from tracker.errors import ValidationFailed
    from tracker.i18n import when

    with app.test_request_context(), force_locale(locale):
        assert when(date(2026, 11, 30)) == day
        assert when(datetime(2026, 11, 30, 6, 5, tzinfo=UTC)) == instant  # 14:05 on campus
        assert when("2026-11-30") == day
        refused = ValidationFailed(N_("A standard takes effect today or later, not on %(day)s."),
                                   day=date(2026, 11, 30))
        assert day in refused.translated() and "2026-11-30" not in refused.translated()


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_notices_write_deadlines_and_instants_in_the_readers_format(app, db, world, locale):
    from flask_babel import force_locale

    from tracker.i18n import when
    from tracker.models import Channel, Notification
    from tracker.services.notify import channels
    from tracker.services.sla import sweep as sla_sweep

    make_ticket(world)
    sla_sweep.sweep_due(T0 + timedelta(minutes=31))  # the response target passed: the centre head hears
    notice = db.session.execute(select(Notification).where(
        Notification.kind == "sla_breached", Notification.channel == Channel.IN_APP)).scalars().first()
    message = channels.render(notice, locale)
    with app.test_request_context(), force_locale(locale):
        due = when(datetime.fromisoformat(notice.payload["due_at"]))
    assert due in message.subject and not re.search(r"\d{4}-\d\d-\d\d|\d+/\d+/\d\d", message.subject)
