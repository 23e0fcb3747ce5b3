"""Fixtures for the browser tests: a live system, Chromium, actors and screenshots.

Every test here is marked ``browser``: ``pytest -m "not browser"`` leaves
them out (``desk.py test`` does so when Debian's chromium is missing outside
CI). The live system -- its own database, filled with the test world, and
gunicorn -- is started once for the package and stopped after its last test,
before the integration tests run. Each actor gets a browser context of its
own, as separate phones and PCs would. Screenshots of the steps go to
``test-artifacts/browser/<test name>/NN-step.png``; on failure every open
page adds a final screenshot and its HTML.
"""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.server import ARTIFACTS_ROOT, LiveServer, Seeded, browser_database_url, prepare_database
from tests.conftest import TEST_BROKER_URL, TEST_DATABASE_URL, _fresh_postgres

HERE = Path(__file__).resolve().parent
ARTIFACTS = ARTIFACTS_ROOT / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEVICES = {
    "phone": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}
# Fail within seconds, not Playwright's 30 s: every page here answers at once.
TIMEOUT_MS = 10_000

REPORTS = pytest.StashKey[dict]()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item: the actors fixture saves the
    # pages' last state only when the test failed.
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@dataclass
class LiveSystem:
    url: str
    seeded: Seeded
    log_path: Path
    # The server's environment: a test that needs a worker or a command starts it with this.
    env: dict | None = None


@pytest.fixture(scope="package")
def live_system(tmp_path_factory) -> LiveSystem:
    """Migrate and fill a database of the browser tests' own, and serve it with gunicorn."""
    instance = tmp_path_factory.mktemp("browser-instance")
    url = browser_database_url(TEST_DATABASE_URL, instance)
    if TEST_DATABASE_URL:
        _fresh_postgres(url)
    seeded = prepare_database(url, instance, log_path=ARTIFACTS / "seed.log")
    server = LiveServer(
        database_url=url,
        instance_path=instance,
        log_path=ARTIFACTS / "server.log",
        broker_url=TEST_BROKER_URL,
    )
    # TODO(issue 4): start a Celery worker here too, with the server's
    # environment (server.env), once tasks deliver what the pages show.
    server.start()
    try:
        server.check_login(seeded.usernames["requester"], seeded.password)
        yield LiveSystem(url=server.url, seeded=seeded, log_path=server.log_path, env=server.env)
    finally:
        server.stop()


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import Error, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"the browser tests need Debian's chromium at {CHROMIUM}: apt-get install chromium, "
            'or leave them out with -m "not browser"'
        )
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except Error as error:
            pytest.fail(f"Chromium at {CHROMIUM} did not start: {error}")
        yield chromium
        chromium.close()


def _folder_name(name: str) -> str:
    """Return a test's node name as a folder name: test_x[phone] -> test_x-phone."""
    return re.sub(r"[^\w.-]+", "-", name).strip("-")


class Shots:
    """Numbered screenshots of one test's steps."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    def _next(self, step: str) -> Path:
        self.count += 1
        return self.folder / f"{self.count:02d}-{_folder_name(step)}"

    def take(self, page, step: str) -> None:
        page.screenshot(path=self._next(step).with_suffix(".png"), full_page=True)

    def failure(self, page, who: str) -> None:
        """Save the page as the test left it: a screenshot and its HTML."""
        base = self._next(f"failure-{who}")
        try:
            page.screenshot(path=base.with_suffix(".png"), full_page=True)
            base.with_suffix(".html").write_text(page.content())
        except Exception as error:  # a crashed page must not hide the test's own failure
            base.with_suffix(".txt").write_text(f"could not save {page.url}: {error}\n")


@pytest.fixture
def shots(request) -> Shots:
    return Shots(ARTIFACTS / _folder_name(request.node.name))


class Actors:
    """People using the desk, each in a browser context of their own."""

    def __init__(self, browser, live: LiveSystem, shots: Shots):
        self.browser = browser
        self.live = live
        self.shots = shots
        self.opened: list[tuple[str, object]] = []  # (who, page)

    def open(self, who: str, device: str = "phone", *, locale: str = "en-US", log_in: bool = True):
        """Return a page in a new context for ``who`` on ``device``, logged in through the form."""
        context = self.browser.new_context(base_url=self.live.url, locale=locale, **DEVICES[device])
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        page = context.new_page()
        self.opened.append((who, page))
        if log_in:
            self.log_in(page, who)
        return page

    def log_in(self, page, who: str, *, go: bool = True) -> None:
        """Log ``who`` in through the form, in the language the page shows (``go``: open /login first)."""
        from playwright.sync_api import expect

        from tests.browser.texts import texts

        if go:
            page.goto("/login")
        t = texts("zh" if page.locator("html").get_attribute("lang") == "zh-CN" else "en")
        page.get_by_label(t("User name")).fill(self.live.seeded.usernames[who])
        page.get_by_label(t("Password")).fill(self.live.seeded.password)
        page.get_by_role("button", name=t("Log in")).click()
        # On a phone "Log out" is in the folded menu: the page has it, visible or not.
        expect(page.get_by_role("button", name=t("Log out"), include_hidden=True)).to_have_count(1)
        self.shots.take(page, f"{who}-logged-in")

    def close(self, failed: bool) -> None:
        for who, page in self.opened:
            if failed and not page.is_closed():
                self.shots.failure(page, who)
            page.context.close()
        self.opened.clear()


def crew_on(request, browser, system, shots):
    """Yield the Actors of a test on ``system``; close them after it, keeping a failure's pages."""
    crew = Actors(browser, system, shots)
    yield crew
    reports = request.node.stash.get(REPORTS, {})
    crew.close(failed=any(report.failed for report in reports.values()))


@pytest.fixture
def actors(request, browser, live_system, shots):
    yield from crew_on(request, browser, live_system, shots)


def open_menu(page) -> None:
    """Open the header's menu where it is folded (a phone); nothing on a desk."""
    toggle = page.locator("header .menu-toggle")
    if toggle.locator("summary").is_visible() and not toggle.evaluate("details => details.open"):
        toggle.locator("summary").click()


def nav_link(page, name: str):
    """Return the header's link ``name``, after opening the menu and its "More" group where they are folded."""
    import re

    from tests.browser.texts import texts

    # The main navigation is named "Main" (主导航 in Chinese).
    main_nav_names = [re.escape(texts(language)("Main")) for language in ("en", "zh")]
    open_menu(page)
    more = page.locator("header .nav-more > details")
    in_more = more.locator("a").filter(has_text=re.compile(rf"^\s*{re.escape(name)}\s*$"))
    if in_more.count() and not more.evaluate("details => details.open"):
        more.locator("summary").click()
    main_nav = page.get_by_role("navigation", name=re.compile(rf"^({'|'.join(main_nav_names)})$"))
    return main_nav.get_by_role("link", name=name, exact=True)


def assert_fits(page) -> None:
    """Assert the page does not scroll sideways on its screen."""
    scroll_width, window_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    screen = page.viewport_size["width"]
    # A mobile browser zooms out to fit wide content, which widens the window.
    assert window_width == screen and scroll_width <= window_width, (
        f"{page.url} scrolls sideways: {scroll_width} px of content, {window_width} px window, {screen} px screen"
    )
