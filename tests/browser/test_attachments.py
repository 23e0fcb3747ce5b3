"""Photos on requests, in Chromium: from the phone's camera input, and the files that are refused.

A user the administrator has just created files a request with a photo on a
360 px phone; then tries, as anyone might, a program renamed "photo.jpg",
a file over the size limit, and the address of another user's photo. Each
is refused with a message that says why, and nothing is stored: the
attachments folder of the live server is counted before and after.
"""

import os
import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import open_menu
from tests.browser.test_request_journey import REFERENCE, assert_fits, flash, heading, history, nav

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + os.urandom(4096)
NEWCOMER, NEWCOMER_PASSWORD = "wang.fang", "first-day-2026"
PHOTO_FIELD = "Photo of the problem"
PANEL_FIELD = "Add a photo or a PDF"


def photo(path: Path, colour=(190, 40, 40)) -> Path:
    image = Image.new("RGB", (1600, 1200), colour)
    for x in range(0, 1600, 80):
        image.paste((30, 30 + x % 200, 150), (x, 0, x + 20, 1200))
    image.save(path, "JPEG", quality=88)
    return path


def stored_files(live_system) -> list[Path]:
    """Every file under the live server's attachments folder (its tmp/ included), relative to it."""
    folder = Path(live_system.env["TRACKER_INSTANCE_PATH"]) / "attachments"
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def attachment_links(page):
    return page.locator("#attachments .attachment-list > li")


def file_with_photo(page, picture: Path, description: str, shots, label: str) -> str:
    """File a repairs request with a photo chosen in the camera input; return its reference."""
    nav(page, "New request").click()
    page.get_by_role("link", name="Repair and maintenance").click()
    page.get_by_label("What is it about?").select_option(label="Water and plumbing")
    page.get_by_label("Building", exact=True).select_option(label="Main campus › Building 3")
    page.get_by_label("Where?").select_option(label="Room 301")
    page.get_by_label("What is wrong?").fill(description)
    camera = page.get_by_label(PHOTO_FIELD)
    # A phone opens its rear camera for this input; a test hands it the picture.
    assert camera.get_attribute("accept") == "image/*" and camera.get_attribute("capture") == "environment"
    camera.set_input_files(str(picture))
    assert_fits(page)
    shots.take(page, f"{label}-form-with-photo")
    page.get_by_role("button", name="File the request").click()
    expect(heading(page)).to_contain_text(REFERENCE)
    return REFERENCE.search(heading(page).inner_text()).group()


def test_a_new_user_files_a_photo_and_every_bad_file_is_refused(actors, live_system, shots, tmp_path):
    # The administrator creates the account.
    admin = actors.open("admin", "desktop")
    admin.goto("/admin/users/new")
    admin.get_by_label("User name").fill(NEWCOMER)
    admin.get_by_label("Name", exact=True).fill("Wang Fang")
    admin.get_by_label("Password").fill(NEWCOMER_PASSWORD)
    admin.get_by_role("group", name="Campus-wide roles").get_by_label("Requester").check()
    admin.get_by_role("button", name=re.compile("^(Create|Save)")).click()
    expect(flash(admin)).to_contain_text(f"User {NEWCOMER} created.")

    # Another requester has a photo on their own request.
    other = actors.open("other_requester", "phone")
    file_with_photo(other, photo(tmp_path / "other.jpg", (20, 140, 60)),
                    "The window in room 301 does not close.", shots, "other")
    other_photo = other.locator("#attachments a").first.get_attribute("href")
    assert re.fullmatch(r"/attachments/\d+", other_photo)

    # The newcomer logs in on a 360 px phone and files a request with a photo from the camera.
    phone = actors.open("newcomer", "phone", log_in=False)
    phone.goto("/login")
    phone.get_by_label("User name").fill(NEWCOMER)
    phone.get_by_label("Password").fill(NEWCOMER_PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    open_menu(phone)  # on a phone, "Log out" is in the folded menu
    expect(phone.get_by_role("button", name="Log out")).to_be_visible()
    reference = file_with_photo(phone, photo(tmp_path / "IMG_2041.jpg"),
                                "The shower in room 301 sprays the ceiling.", shots, "newcomer")
    expect(flash(phone)).to_contain_text(f"Request {reference} is filed.")
    expect(attachment_links(phone)).to_have_count(1)
    expect(attachment_links(phone)).to_contain_text("IMG_2041.jpg")
    thumbnail = phone.locator("#attachments img.thumb")
    expect(thumbnail).to_be_visible()
    # Visible is not loaded: on a busy machine the thumbnail's bytes come later.
    thumbnail.evaluate("img => img.complete ? null : new Promise(done => { img.onload = img.onerror = done; })")
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 320
    expect(history(phone).filter(has_text="attached IMG_2041.jpg")).to_have_count(1)
    assert_fits(phone)
    shots.take(phone, "newcomer-filed-with-photo")
    before = stored_files(live_system)
    assert len(before) >= 4  # two photos and their thumbnails
    assert not [p for p in before if p.parts[0] == "tmp"]  # nothing half-written left behind

    # A program renamed "photo.jpg": refused on its content.
    program = tmp_path / "photo.jpg"
    program.write_bytes(ELF)
    phone.get_by_label(PANEL_FIELD).set_input_files(str(program))
    phone.get_by_role("button", name="Upload").click()
    expect(flash(phone)).to_contain_text(
        "photo.jpg is not a photo (JPEG, PNG or WebP) or a PDF document: its content was checked, "
        "whatever its name says. Nothing was saved.")
    expect(attachment_links(phone)).to_have_count(1)
    assert_fits(phone)
    shots.take(phone, "renamed-program-refused")
    assert stored_files(live_system) == before

    # A file over the limit (10 MB): the page says so at once and does not send it ...
    large = tmp_path / "panorama.jpg"
    large.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(10 * 1024 * 1024 + 300 * 1024))
    field = phone.get_by_label(PANEL_FIELD)
    field.set_input_files(str(large))
    message = "This file is larger than 10 MB, the most a file may have."
    assert field.evaluate("input => input.validationMessage") == message
    phone.get_by_role("button", name="Upload").click()
    expect(phone).to_have_url(re.compile(rf"/tickets/{reference}"))
    expect(attachment_links(phone)).to_have_count(1)
    shots.take(phone, "oversized-stopped-in-the-page")
    # ... and a browser that sends it anyway (no script) gets the server's refusal.
    field.evaluate("input => { input.removeAttribute('data-max-bytes'); input.setCustomValidity(''); }")
    phone.get_by_role("button", name="Upload").click()
    expect(flash(phone)).to_contain_text(
        "panorama.jpg is larger than 10 MB, the most a file may have. Nothing was saved.")
    expect(attachment_links(phone)).to_have_count(1)
    shots.take(phone, "oversized-refused-by-the-server")
    assert stored_files(live_system) == before

    # Another user's photo, by its address: "Not found", as for a file that never was.
    for address in (other_photo, other_photo + "/thumbnail"):
        answer = phone.goto(address)
        assert answer.status == 404
        expect(heading(phone)).to_have_text("Not found")
    assert_fits(phone)
    shots.take(phone, "other-users-photo-not-found")
    own = phone.request.get(other_photo)
    assert own.status == 404 and b"\xff\xd8" not in own.body()[:4]

    # The newcomer's request still has its one photo, and its history says nothing else was added.
    phone.goto(f"/tickets/{reference}")
    expect(attachment_links(phone)).to_have_count(1)
    expect(history(phone).filter(has_text="attached")).to_have_count(1)
    assert stored_files(live_system) == before


def test_a_photo_opens_full_size_with_a_quiet_console(actors, shots, tmp_path):
    # Issue 15.12: the browser's own image page styled itself inline, and the
    # files' CSP refused it: three errors in the console per photo opened.
    # A request of its own: the seeded ones' histories are counted by other tests.
    page = actors.open("other_requester", "desktop")
    problems = []
    page.on("console", lambda message: problems.append(f"{message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    file_with_photo(page, photo(tmp_path / "ceiling.jpg"), "The ceiling of room 301 has a wet stain.", shots, "stain")
    link = attachment_links(page).filter(has_text="ceiling.jpg").get_by_role("link")
    address = link.get_attribute("href")

    link.click()
    expect(page).to_have_url(re.compile(re.escape(address) + "$"))
    picture = page.locator("img")
    expect(picture).to_have_count(1)
    picture.evaluate("img => img.complete ? null : new Promise(done => { img.onload = img.onerror = done; })")
    assert picture.evaluate("img => img.naturalWidth") == 1600
    shots.take(page, "photo-full-size")
    page.go_back()
    expect(attachment_links(page).filter(has_text="ceiling.jpg")).to_have_count(1)
    assert problems == []
