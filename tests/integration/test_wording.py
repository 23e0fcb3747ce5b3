"""Words as readers meet them: one meaning per translation, Chinese punctuation, flashes that say what happened."""

import html
import re
from datetime import timedelta

from tests.conftest import post_form
from tests.factories import T0, make_ticket
from tracker.domain.workflow import Status


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


def test_a_rectification_items_source_is_labelled_source(client, world, login_as):
    login_as("leadership")
    _read_in(client, "zh_CN")
    page = _page(client, "/rectification/new")
    assert "来源" in page and "提出人" not in page


def test_labels_on_a_chinese_page_end_with_a_full_width_colon(client, world):
    from tracker.domain.workflow import Action
    from tracker.services import tickets as ticket_service

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
