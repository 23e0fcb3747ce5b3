"""The Chinese catalogue: complete for the current source, placeholders intact, and used by the pages."""

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from tests.conftest import post_form

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "tracker" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
NAMED = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifr]")


@pytest.fixture(scope="module")
def source_messages(tmp_path_factory):
    """Extract the messages from the source now, as `desk.py i18n` does."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k", "N_", "-k", "pN_:1c,2", "-o", str(pot),
         str(ROOT)]
    )
    with pot.open("rb") as fh:
        return [message for message in read_po(fh) if message.id]


@pytest.fixture(scope="module")
def chinese():
    with CATALOGUE.open("rb") as fh:
        return read_po(fh, locale="zh_CN")


def _placeholders(text: str, python_format: bool) -> Counter:
    found = Counter(NAMED.findall(text))
    if python_format:
        found["%%"] = text.count("%%")
    return found


def test_every_message_of_the_source_has_a_chinese_translation(source_messages, chinese):
    missing = []
    for message in source_messages:
        translated = chinese.get(message.id, message.context)
        strings = () if translated is None else (
            translated.string if isinstance(translated.string, tuple) else (translated.string,))
        if translated is None or translated.fuzzy or not all(strings):
            missing.append(message.id)
    assert not missing, (
        f"{len(missing)} messages lack a Chinese translation (run `python3 desk.py i18n` and translate them "
        f"in {CATALOGUE.relative_to(ROOT)}): {missing[:20]}"
    )


def test_translations_keep_the_placeholders_of_their_message(source_messages, chinese):
    wrong = []
    for message in source_messages:
        translated = chinese.get(message.id, message.context)
        if translated is None:
            continue  # reported by the test above
        python_format = "python-format" in message.flags
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = translated.string if isinstance(translated.string, tuple) else (translated.string,)
        # Chinese has one plural form: it carries the plural message's placeholders.
        want = _placeholders(ids[-1], python_format)
        for text in strings:
            if text and _placeholders(text, python_format) != want:
                wrong.append((ids[-1], text))
            if text and python_format and _formats(ids[-1], want):
                if not _formats(text, want):
                    wrong.append((ids[-1], f"{text} (cannot be formatted)"))
    assert not wrong, f"translations whose placeholders differ from their message: {wrong[:10]}"


def _formats(text: str, names: Counter) -> bool:
    """Return whether ``text % {...}`` works (some messages only look like formats: "%d/%m/%Y")."""
    try:
        text % {name: 1 for name in names if name != "%%"}
    except (KeyError, ValueError, TypeError):
        return False
    return True


class _Text(HTMLParser):
    """The text a reader meets: text nodes and labelling attributes, minus English on purpose (lang="en")."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []

    def _skipping(self) -> bool:
        return any(skip for _tag, skip in self.stack)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        skip = tag in ("script", "style", "svg") or attributes.get("lang", "").startswith("en")
        if not skip and not self._skipping():
            for name in ("aria-label", "title", "placeholder", "alt"):
                if attributes.get(name):
                    self.parts.append(attributes[name])
        if tag not in self.VOID:
            self.stack.append((tag, skip))

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, _skip = self.stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        if not self._skipping():
            self.parts.append(data)


def _visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def _english_fragments(chinese) -> list[str]:
    """Return the English texts of the catalogue a Chinese page must not show: whole phrases only."""
    fragments = set()
    for message in chinese:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if ids[0] in strings:
            continue  # the same in both languages (CSV, PDF)
        for text in ids:
            for piece in re.split(r"%\(\w+\)[sdif]|%%|[“”\"]", text):
                piece = piece.strip(" .,:;–—()")
                if len(piece.split()) >= 3:
                    fragments.add(piece)
    return sorted(fragments)


def test_key_pages_in_chinese_show_no_english_from_the_catalogue(client, db, world, login_as, make_ticket, chinese):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9"
    ticket = make_ticket(status="on_hold")
    pages = {None: ["/login", "/login?next=/tickets/mine"]}
    pages["requester"] = ["/tickets/mine", "/tickets/new", "/tickets/new/repairs", f"/tickets/{ticket.reference}",
                          "/account", "/notifications"]
    pages["technician"] = ["/queue/", f"/tickets/{ticket.reference}"]
    pages["dispatcher"] = ["/queue/dispatch", "/tickets/", "/qr/", f"/qr/sheets/{world.locations['building'].id}"]
    pages["leadership"] = ["/dashboard", "/weekly/", f"/tickets/{ticket.reference}"]
    pages["admin"] = ["/admin/", "/admin/locations"]
    fragments = _english_fragments(chinese)
    assert len(fragments) > 300, "the catalogue should hold hundreds of English phrases"
    found = {}
    for who, paths in pages.items():
        if who is not None:
            login_as(who)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, f"{who} on {path}: {response.status_code}"
            page = response.get_data(as_text=True)
            assert '<html lang="zh-CN">' in page
            text = _visible_text(page)
            assert re.search(r"[\u4e00-\u9fff]{2,}", text), f"{path} shows no Chinese"
            english = [fragment for fragment in fragments if fragment in text]
            if english:
                found[f"{who} {path}"] = english
        if who is not None:
            post_form(client, "/logout")
    assert not found, f"English phrases of the catalogue on Chinese pages: {found}"


def test_the_language_switch_is_remembered_for_the_user(client, db, world, login_as):
    from tracker.extensions import db as database
    from tracker.models import User

    login_as("requester")
    assert "我的工单" not in client.get("/tickets/mine").get_data(as_text=True)
    post_form(client, "/language", {"locale": "zh_CN", "next": "/tickets/mine"})
    assert "我的工单" in client.get("/tickets/mine").get_data(as_text=True)
    database.session.expire_all()
    assert database.session.get(User, world.users["requester"].id).locale == "zh_CN"
    # A new session on another device (an English browser) reads the user's choice after login.
    client.cookie_jar.clear() if hasattr(client, "cookie_jar") else client._cookies.clear()
    login_as("requester")
    page = client.get("/tickets/mine").get_data(as_text=True)
    assert "我的工单" in page and '<html lang="zh-CN">' in page


def test_wtforms_own_messages_follow_the_readers_language_from_one_request_to_the_next(client, db, world,
                                                                                       login_as):
    # WTForms' catalogue is read once a process per language (tracker.i18n.wtforms_translations).
    login_as("leadership")
    for locale, message in (("en", "Not a valid date value."), ("zh_CN", "不是有效的日期值。"),
                            ("en", "Not a valid date value.")):
        post_form(client, "/language", {"locale": locale, "next": "/weekly/"})
        answer = post_form(client, "/weekly/regenerate", {"week": "not a day"}, follow_redirects=True)
        assert message in answer.get_data(as_text=True), locale


def test_e_mails_read_in_the_language_the_user_chose(client, db, world, login_as, make_ticket):
    from sqlalchemy import select

    from tracker.extensions import db as database
    from tracker.models import Notification
    from tracker.services.notify.channels import render

    def last_assigned_notice():
        return database.session.execute(
            select(Notification).where(Notification.user_id == technician.id, Notification.kind == "ticket_assigned")
            .order_by(Notification.id.desc())
        ).scalars().first()

    technician = world.users["technician"]
    assert technician.locale is None
    # Never chose: pages follow the browser, e-mails the default language (zh_CN).
    first = make_ticket(status="assigned")
    notice = last_assigned_notice()
    assert notice.locale == "zh_CN"
    assert render(notice).subject == f"[{first.reference}] 指派给您：{first.title}"
    assert "此工单已指派给您。" in render(notice).text

    login_as("technician")
    post_form(client, "/language", {"locale": "en", "next": "/queue/"})
    second = make_ticket(status="assigned")
    notice = last_assigned_notice()
    assert notice.locale == "en"
    assert render(notice).subject == f"[{second.reference}] Assigned to you: {second.title}"



@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_angle_brackets_in_a_translated_message_are_shown_as_text(client, db, world, login_as, locale):
    login_as("requester")
    post_form(client, "/language", {"locale": locale, "next": "/account/tokens/"})
    page = client.get("/account/tokens/").get_data(as_text=True)
    assert "Bearer &lt;token&gt;" in page and "<token>" not in page
    assert "&amp;lt;" not in page  # escaped once, not twice


def test_a_message_is_escaped_on_pages_and_kept_as_text_in_plain_text_templates(app, db):
    source = "{{ _('Bearer <token> for %(who)s', who='<b>') }}"
    with app.test_request_context("/"):
        page = app.jinja_env.from_string(source).render()
        plain = app.jinja_env.overlay(autoescape=False).from_string(source).render()
    assert page == "Bearer &lt;token&gt; for &lt;b&gt;"
    assert plain == "Bearer <token> for <b>"
