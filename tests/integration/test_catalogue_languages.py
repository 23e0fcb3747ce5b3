"""Texts staff write for the catalogue are read in the reader's language, the other one when empty.

Centre names and descriptions, category and place names (issue 15, item 4):
each is stored per language (``name_zh``/``name_en``,
``description_zh``/``description_en``) and read through one helper
(``Bilingual.text_for``, the ``localized`` filter). The generated header
of a rectification item opened from a cluster follows the reader too.
"""

import html
import re

from sqlalchemy import select

from tests.conftest import post_form
from tests.factories import make_ticket
from tracker.extensions import db as _db
from tracker.models import Centre, Channel, Notification, RectificationItem

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _describe(world, **texts) -> None:
    for code, (zh, en) in texts.items():
        centre = world.centres[code]
        centre.description_zh, centre.description_en = zh, en
    _db.session.commit()


def test_the_centre_chooser_reads_in_one_language_with_a_fallback(client, world, login_as):
    _describe(world, repairs=("水电、门窗、空调与网络报修。", "Water, power, doors, air-conditioning."),
              dorm=("宿舍设施与钥匙。", ""))
    login_as("requester")

    english = _page(client.get("/tickets/new", headers=EN))
    chinese = _page(client.get("/tickets/new", headers=ZH))

    assert "Repair and maintenance" in english and "Water, power, doors, air-conditioning." in english
    assert "维修服务中心" not in english and "水电、门窗、空调与网络报修。" not in english
    # The dormitory centre has no English description yet: English readers see the Chinese one.
    assert "宿舍设施与钥匙。" in english
    assert "维修服务中心" in chinese and "水电、门窗、空调与网络报修。" in chinese
    assert "Repair and maintenance" not in chinese and "Water, power" not in chinese


def test_a_name_written_in_one_language_only_shows_to_readers_of_both(client, world, login_as):
    world.centres["dorm"].name_en = ""
    world.categories["water"].name_zh = ""
    _db.session.commit()
    login_as("requester")

    chooser = _page(client.get("/tickets/new", headers=EN))
    form_zh = _page(client.get("/tickets/new/repairs", headers=ZH))
    form_en = _page(client.get("/tickets/new/repairs", headers=EN))

    assert "宿舍管理中心" in chooser
    assert "Water and plumbing" in form_zh and "电力" in form_zh and "Electricity" not in form_zh
    assert "Water and plumbing" in form_en and "Electricity" in form_en and "电力" not in form_en


def test_the_api_gives_the_description_in_the_readers_language_and_as_written(client, world):
    from tests.integration.api_helpers import bearer, make_token

    _describe(world, repairs=("水电报修。", "Water and power."), dorm=("宿舍设施。", ""))
    secret = make_token(world, "requester")

    english = {c["code"]: c for c in client.get("/api/v1/centres", headers=bearer(secret, **EN)).get_json()["items"]}
    chinese = {c["code"]: c for c in client.get("/api/v1/centres", headers=bearer(secret, **ZH)).get_json()["items"]}

    assert english["repairs"]["description"] == "Water and power."
    assert chinese["repairs"]["description"] == "水电报修。"
    assert english["dorm"]["description"] == "宿舍设施。"  # fallback
    assert english["dorm"]["description_en"] == "" and english["dorm"]["description_zh"] == "宿舍设施。"


def _centre_form(**overrides) -> dict:
    data = {"code": "gardens", "name_zh": "园林绿化中心", "name_en": "Landscaping and gardens", "ref_prefix": "GD",
            "description_zh": "树木与草坪。", "description_en": "Trees and lawns.", "sort_order": "3"}
    data.update(overrides)
    return data


def test_admin_writes_and_edits_the_description_in_both_languages(client, world, login_as):
    login_as("admin")

    created = post_form(client, "/admin/centres/new", _centre_form())
    assert created.status_code == 302, _page(created)[:2000]
    centre = _db.session.execute(select(Centre).where(Centre.code == "gardens")).scalar_one()
    assert (centre.description_zh, centre.description_en) == ("树木与草坪。", "Trees and lawns.")
    form = _page(client.get(f"/admin/centres/{centre.id}", headers=EN))
    assert "Description (Chinese)" in form and "Description (English)" in form and "Trees and lawns." in form

    edited = post_form(client, f"/admin/centres/{centre.id}", _centre_form(
        description_en="Trees, lawns and pests.", is_active="y"))
    assert edited.status_code == 302, _page(edited)[:2000]
    _db.session.expire_all()
    centre = _db.session.get(Centre, centre.id)
    assert (centre.description_zh, centre.description_en) == ("树木与草坪。", "Trees, lawns and pests.")
    history = _page(client.get("/admin/history?kind=centre", headers=EN))
    assert "Description (English)" in history


def test_admin_may_leave_the_other_language_empty_but_not_both(client, world, login_as):
    login_as("admin")

    both_empty = post_form(client, "/admin/centres/new", _centre_form(name_zh=" ", name_en=""))
    assert "Give the name in Chinese, in English or in both." in _page(both_empty)
    assert _db.session.execute(select(Centre).where(Centre.code == "gardens")).first() is None

    chinese_only = post_form(client, "/admin/centres/new", _centre_form(name_en="", description_en=""))
    assert chinese_only.status_code == 302, _page(chinese_only)[:2000]
    post_form(client, "/logout")
    login_as("requester")
    chooser = _page(client.get("/tickets/new", headers=EN))
    assert "园林绿化中心" in chooser and "树木与草坪。" in chooser


def test_hold_reasons_read_in_the_readers_language(client, world, login_as):
    ticket = make_ticket(world, status="on_hold")  # waiting for parts
    login_as("requester")

    english = _page(client.get(f"/tickets/{ticket.reference}", headers=EN))
    chinese = _page(client.get(f"/tickets/{ticket.reference}", headers=ZH))

    assert "Waiting for parts" in english and "等待配件" not in english
    assert "Waiting for parts" not in chinese


TEXTAREA = re.compile(r'<textarea[^>]*name="description"[^>]*>(.*?)</textarea>', re.S)


def test_an_item_opened_from_a_cluster_reads_in_the_pages_language(client, world, login_as):
    cluster = [make_ticket(world, description=f"Shuttle bus left early, complaint {n}.") for n in range(2)]
    login_as("dispatcher")
    # The dispatcher reads English: the form writes the generated header in English.
    form = _page(client.get("/rectification/new?" + "&".join(f"ticket={t.reference}" for t in cluster),
                            headers=EN))
    description = TEXTAREA.search(form).group(1).strip()
    assert description.startswith("Requests behind this item:")
    created = post_form(client, "/rectification/new", {
        "centre_id": world.centres["repairs"].id, "title": "Shuttle bus leaves early", "description": description,
        "source": "complaint_cluster", "responsible_id": world.users["technician"].id, "due_on": "2026-12-31",
        "priority": "normal", "tickets": " ".join(t.reference for t in cluster),
    }, headers=EN)
    assert created.status_code == 302, _page(created)[:2000]
    item = _db.session.execute(select(RectificationItem)).scalar_one()

    chinese = _page(client.get(f"/rectification/{item.reference}", headers=ZH))
    english = _page(client.get(f"/rectification/{item.reference}", headers=EN))

    assert "此事项涉及的工单：" in chinese and "Requests behind this item:" not in chinese
    assert "Requests behind this item:" in english and "此事项涉及的工单：" not in english
    assert all(t.reference in chinese for t in cluster)


def test_an_item_written_in_chinese_before_reads_in_english(app, world):
    from flask_babel import force_locale

    from tracker.services.ledger import rectification as ledger

    item = RectificationItem(description="此事项涉及的工单：\nRP-2026-000001 水管漏水\n请尽快处理。")
    with app.test_request_context("/"), force_locale("en"):
        assert ledger.description_for(item, "en") == \
            "Requests behind this item:\nRP-2026-000001 水管漏水\n请尽快处理。"
        assert ledger.description_for(item, "zh_CN") == item.description


def test_a_notice_names_centres_in_the_recipients_language_with_a_fallback(app, world):
    from tracker.services.notify.channels import render

    payload = {"week_start": "2026-11-30", "week_end": "2026-12-06", "headline": [
        {"name_en": "", "name_zh": "宿舍管理中心", "received": 3, "resolved": 2, "backlog": 1, "breached": 0},
        {"name_en": "Repair and maintenance", "name_zh": "维修服务中心", "received": 5, "resolved": 5, "backlog": 0,
         "breached": 1},
    ]}
    with app.test_request_context("/"):
        english = render(Notification(kind="weekly_report", channel=Channel.EMAIL, payload=payload, locale="en"))
        chinese = render(Notification(kind="weekly_report", channel=Channel.EMAIL, payload=payload, locale="zh_CN"))

    assert english.subject.startswith("Weekly report")
    assert "宿舍管理中心: 3 received" in english.text and "Repair and maintenance: 5 received" in english.text
    assert "维修服务中心" not in english.text
    assert chinese.subject.startswith("周报") and "维修服务中心" in chinese.text
    assert "Repair and maintenance" not in chinese.text


def _responses(world, *topics):
    from tracker.models import SurveyResponse

    rows = [SurveyResponse(row_key=f"k{n}", survey="Autumn survey", centre_id=world.centres["repairs"].id,
                           topic=topic, score=2, comment=f"Comment {n}") for n, topic in enumerate(topics)]
    _db.session.add_all(rows)
    _db.session.commit()
    return rows


def test_survey_topics_read_in_the_readers_language_once_named(client, world, login_as):
    hot, lifts = _responses(world, "Hot water", "Lifts")
    login_as("admin")
    listing = _page(client.get("/surveys/topics", headers=EN))
    assert "Hot water" in listing and "Lifts" in listing

    saved = post_form(client, "/surveys/topics", {"key": "Hot water", "name_zh": "热水供应", "name_en": "Hot water"})
    assert saved.status_code == 302, _page(saved)[:2000]
    refused = post_form(client, "/surveys/topics", {"key": "Lifts", "name_zh": "", "name_en": " "}, headers=EN)
    assert "Give the name in Chinese, in English or in both." in _page(refused)

    chinese = _page(client.get("/surveys/", headers=ZH))
    english = _page(client.get("/surveys/", headers=EN))
    assert "热水供应" in chinese and ">Hot water<" not in chinese
    assert "Hot water" in english and "热水供应" not in english
    # A topic nobody named shows as the file wrote it.
    assert "Lifts" in chinese
    assert "热水供应" in _page(client.get(f"/surveys/responses/{hot.id}", headers=ZH))
    history = _page(client.get("/admin/history?kind=survey_topic", headers=EN))
    assert "热水供应" in history


def test_only_administrators_name_survey_topics(client, world, login_as):
    from tracker.models import SurveyTopic

    _responses(world, "Hot water")
    login_as("centre_head")
    assert client.get("/surveys/topics").status_code == 403
    refused = post_form(client, "/surveys/topics", {"key": "Hot water", "name_zh": "热水", "name_en": ""})
    assert refused.status_code == 403
    assert _db.session.execute(select(SurveyTopic)).first() is None


def test_a_centre_description_from_before_goes_to_the_default_language(app_config, tmp_path):
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from tests.conftest import TEST_DATABASE_URL, _fresh_postgres
    from tracker import create_app

    if TEST_DATABASE_URL:
        url = sa.make_url(TEST_DATABASE_URL)
        database = _fresh_postgres(url.set(database=f"{url.database}_i18n").render_as_string(hide_password=False))
    else:
        database = f"sqlite:///{tmp_path / 'before.db'}"
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": database})
    with app.app_context():
        upgrade(revision="0018_replay")
        with _db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO centres (code, name_en, name_zh, ref_prefix, description, sort_order, is_active, "
                "created_at) VALUES ('repairs', 'Repairs', '维修', 'RP', '水电报修。', 0, true, '2026-01-01')"))
        upgrade(revision="heads")
        with _db.engine.connect() as conn:
            row = conn.execute(sa.text("SELECT description_zh, description_en FROM centres")).one()
        _db.engine.dispose()
    assert tuple(row) == ("水电报修。", "")
