"""Every page, as every role that may open it, in both languages, on a 360 px phone: nothing scrolls sideways.

The pages are not a chosen list: the walk reads the app's routes
(``Seeded.routes``, from ``app.url_map``) and fails when a GET route is
neither in PAGES nor in EXCLUDED (with its reason), so a page added later is
walked too. Who may open a page comes from its rule in
tests/integration/test_route_permissions.py (every role answered 200).
The browser tests' world has a row on every list page, with long words in
it (an escalation, API tokens, a webhook, a survey, a replay...: see
``tests.browser.server._wide_rows``).

A failure names each page and the outermost elements that stick out
past the screen's right edge.
"""

import re

import pytest

from tests.browser.conftest import DEVICES, TIMEOUT_MS
from tests.browser.texts import BROWSER_LOCALES
from tests.integration.test_route_permissions import OK
from tests.integration.test_route_permissions import ROUTES as RULES

# endpoint -> the page's address; {name} is filled from Seeded.ids.
PAGES = {
    "auth.login": "/login",
    "auth.account": "/account",
    "notifications.index": "/notifications",
    "notifications.preferences": "/account/notifications",
    "tokens.index": "/account/tokens/",
    "tickets.index": "/tickets/",
    "tickets.mine": "/tickets/mine",
    "tickets.new": "/tickets/new",
    "tickets.file": "/tickets/new/{centre_code}",
    "tickets.detail": "/tickets/{reference}",
    "feedback.link": "/feedback/{feedback_token}",
    "follow_ups.index": "/follow-ups?state=done",
    "scorecards.index": "/scorecards?from=2026-03-01&to=2026-03-31",
    "queue.mine": "/queue/",
    "queue.dispatch": "/queue/dispatch",
    "escalations.index": "/escalations/",
    "dispatch.roster": "/dispatch/roster",
    "dispatch.my_shifts": "/dispatch/my-shifts",
    "supervision.index": "/supervision/",
    "dashboards.index": "/dashboard?from=2026-03-01&to=2026-03-31",
    "dashboards.details": "/dashboard/details?from=2026-03-01&to=2026-03-31",
    "dashboards.centre": "/dashboard/centre?from=2026-03-01&to=2026-03-31",
    "dashboards.tickets": "/dashboard/tickets?figure=received&from=2026-03-01&to=2026-03-31",
    "dashboards.definitions": "/dashboard/definitions",
    "display.index": "/display",
    "display.shared": "/display/{display_secret}",
    "display_links.index": "/admin/display-links/",
    "weekly.index": "/weekly/",
    "weekly.report": "/weekly/{week}",
    "rectification.index": "/rectification/",
    "rectification.new": "/rectification/new",
    "rectification.detail": "/rectification/{item_reference}",
    "rectification.dashboard": "/rectification/dashboard",
    "rectification.hotspot": "/rectification/hotspot?location={location_id}&category={category_id}",
    "surveys.index": "/surveys/",
    "surveys.upload": "/surveys/import",
    "surveys.imports": "/surveys/imports",
    "surveys.run": "/surveys/imports/{survey_import_id}",
    "surveys.mapping": "/surveys/imports/{survey_import_id}/mapping",
    "surveys.response": "/surveys/responses/{survey_response_id}",
    "surveys.new_item": "/surveys/to-item?response={survey_response_id}",
    "surveys.topics": "/surveys/topics",
    "qr.index": "/qr/",
    "qr.sheet": "/qr/sheets/{building_id}",
    "standards.index": "/standards/",
    "standards.detail": "/standards/replays/{replay_id}",
    "standards.request_timelines": "/standards/replays/{replay_id}/requests/{reference}",
    "standards.history_page": "/standards/history",
    "standards.shared": "/standards/shared/{replay_token}",
    "standards_admin.centres": "/standards/centres",
    "standards_admin.draft_edit": "/standards/drafts/{draft_id}",
    "standards_admin.benchmark_list": "/standards/benchmarks",
    "standards_admin.links": "/standards/links",
    "admin.index": "/admin/",
    "admin.history": "/admin/history",
    "admin.users": "/admin/users",
    "admin.user_new": "/admin/users/new",
    "admin.user_edit": "/admin/users/{user_id}",
    "admin.centres": "/admin/centres",
    "admin.centre_new": "/admin/centres/new",
    "admin.centre_edit": "/admin/centres/{centre_id}",
    "admin.categories": "/admin/categories",
    "admin.category_new": "/admin/categories/new",
    "admin.category_edit": "/admin/categories/{category_id}",
    "admin.locations": "/admin/locations",
    "admin.location_new": "/admin/locations/new",
    "admin.location_edit": "/admin/locations/{location_id}",
    "admin.calendars": "/admin/calendars",
    "admin.calendar_new": "/admin/calendars/new",
    "admin.calendar_edit": "/admin/calendars/{calendar_id}",
    "admin.calendar_version": "/admin/calendars/{calendar_id}/versions/1",
    "admin.policies": "/admin/policies",
    "admin.policy_new": "/admin/policies/new",
    "admin.policy_edit": "/admin/policies/{policy_id}",
    "admin.policy_version": "/admin/policies/{policy_id}/versions/1",
    "admin_ops.index": "/admin/ops/",
    "admin_ops.webhooks_list": "/admin/ops/webhooks",
    "admin_ops.webhook_new": "/admin/ops/webhooks/new",
    "admin_ops.webhook_edit": "/admin/ops/webhooks/{webhook_id}",
    "imports.index": "/admin/imports/",
    "imports.run": "/admin/imports/runs/{run_id}",
    "imports.mapping_new": "/admin/imports/mappings/new",
    "imports.mapping_edit": "/admin/imports/mappings/{mapping_id}",
    "materials.index": "/materials/",
    "materials.centre": "/materials/repairs",
    "materials.item": "/materials/item/{material_id}",
    "follow_up_rules.index": "/follow-up-rules/",
    "follow_up_rules.centre": "/follow-up-rules/repairs",
    "contractors.index": "/contractors/",
}

DOWNLOAD = "a file to download (CSV, xlsx, PNG), not a page"
JSON = "JSON for programs and the pages' scripts, not a page"
EXCLUDED = {
    "static": "the stylesheet, scripts and icons",
    "health.healthz": "a plain-text answer for load balancers",
    "health.readyz": "a plain-text answer for load balancers",
    "metrics": "Prometheus figures for monitoring, behind a token",
    "home.index": "redirects each role to its start page, which is walked",
    # Sign-on is off in the walked world; its login page at 360 px is in test_signon_journey.py.
    "signon.cas_start": "redirects to the campus CAS server",
    "signon.cas_done": "CAS's return: checks the ticket and redirects",
    "signon.oidc_start": "redirects to the OpenID provider",
    "signon.oidc_done": "the provider's return: checks the code and redirects",
    "notifications.open": "marks the notice read and redirects to its subject",
    "attachments.download": "the photo or PDF itself",
    "attachments.thumbnail": "a JPEG thumbnail",
    "qr.png": DOWNLOAD,
    "tickets.export": DOWNLOAD,
    "tickets.events_export": DOWNLOAD,
    "dashboards.export": DOWNLOAD,
    "scorecards.export": DOWNLOAD,
    "dashboards.tickets_export": DOWNLOAD,
    "rectification.export": DOWNLOAD,
    "rectification.dashboard_export": DOWNLOAD,
    "imports.errors_export": DOWNLOAD,
    "weekly.download": DOWNLOAD,
    "materials.export": DOWNLOAD,
    "imports.run_status": JSON,
    "tickets.places": JSON,
    "standards.status": JSON,
    "display.data": JSON,
    "display.shared_data": JSON,
    "api.openapi": JSON,
    "api.centres_list": JSON,
    "api.categories_list": JSON,
    "api.ticket_quotes": JSON,
    "api.locations_list": JSON,
    "api.tickets_list": JSON,
    "api.ticket_read": JSON,
    "api.ticket_comments": JSON,
    "api.figures": JSON,
    "api.rectification_list": JSON,
    "api.rectification_read": JSON,
    "api.standards_replay_list": JSON,
    "api.standards_replay_read": JSON,
}
LANGUAGES = ["en", "zh"]
WALKERS = ["anonymous", "requester", "technician", "dispatcher", "centre_head", "leadership", "admin"]
# The outermost elements past the right edge that no scrolling box of theirs clips.
STICKING_OUT = """() => {
    const edge = document.documentElement.clientWidth + 1;
    const positioned = s => s.position !== 'static';
    const escapes = s => s.position === 'absolute' || s.position === 'fixed';
    // Clipped by an ancestor that scrolls or hides: an absolutely positioned element only by one at or
    // above its containing block (a visually hidden label escapes a scrolling box that is not positioned).
    const clipped = el => {
        let looking = escapes(getComputedStyle(el));
        for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
            const s = getComputedStyle(a);
            if (looking && !positioned(s)) continue;
            if (s.overflowX !== 'visible') return true;
            looking = escapes(s);
        }
        return false;
    };
    const out = el => { const r = el.getBoundingClientRect(); return (r.width || r.height) && r.right > edge; };
    const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + [...el.classList].map(c => '.' + c).join('');
    return [...document.querySelectorAll('body *')]
        .filter(el => out(el) && !clipped(el))
        .filter(el => el.parentElement === document.body || !out(el.parentElement) || clipped(el.parentElement))
        .slice(0, 5)
        .map(el => `${name(el.parentElement)} > ${name(el)} (right edge ${Math.round(el.getBoundingClientRect().right)} px)`
                   + ` "${(el.innerText || el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 40)}"`);
}"""


def get_routes(seeded) -> list[str]:
    return sorted({endpoint for endpoint, _rule, methods in seeded.routes if "GET" in methods})


def readers(endpoint: str) -> list[str]:
    """Return the roles that open ``endpoint`` (200 in its permission rule)."""
    _method, _path, expected = RULES[endpoint]
    return [role for role in WALKERS if expected[role] == OK]


def test_every_get_route_is_walked_or_excluded_with_a_reason(live_system):
    routes = get_routes(live_system.seeded)
    missing = [endpoint for endpoint in routes if endpoint not in PAGES and endpoint not in EXCLUDED]
    assert not missing, f"GET routes the 360 px walk neither visits nor excludes (add them to PAGES): {missing}"
    stale = sorted((set(PAGES) | set(EXCLUDED)) - set(routes))
    assert not stale, f"PAGES or EXCLUDED name routes that no longer exist: {stale}"
    both = sorted(set(PAGES) & set(EXCLUDED))
    assert not both, f"both walked and excluded: {both}"
    unseen = [endpoint for endpoint in PAGES if not readers(endpoint)]
    assert not unseen, f"pages no role opens (check their rule in test_route_permissions.py): {unseen}"


@pytest.mark.parametrize("role", WALKERS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_no_page_scrolls_sideways_at_360_px(language, role, browser, live_system, actors):
    seeded = live_system.seeded
    pages = [endpoint for endpoint in PAGES if role in readers(endpoint)]
    assert pages or role == "anonymous"
    context = browser.new_context(base_url=live_system.url, locale=BROWSER_LOCALES[language], **DEVICES["phone"])
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    actors.opened.append((role, page))  # closed (and shot on failure) with the other actors
    if role != "anonymous":
        actors.log_in(page, role)
    wanted_lang = "zh-CN" if language == "zh" else "en"
    problems = []
    for endpoint in pages:
        address = PAGES[endpoint].format(**seeded.ids)
        answer = page.goto(address)
        if answer is None or answer.status != 200:
            problems.append(f"{endpoint} {address}: answered {answer and answer.status}, not 200")
            continue
        lang = page.locator("html").get_attribute("lang")
        assert lang == wanted_lang, f"{address} is in {lang}, not {wanted_lang}"
        scroll_width, window_width = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]")
        if scroll_width > 360 or window_width != 360:
            problems.append(f"{endpoint} {address}: {scroll_width} px wide ({window_width} px window); "
                            f"sticking out: {page.evaluate(STICKING_OUT)}")
    assert not problems, f"{len(problems)} of {len(pages)} pages as {role} ({language}) do not fit 360 px:\n" + \
        "\n".join(problems)


def test_placeholders_are_all_seeded(live_system):
    names = {name for address in PAGES.values() for name in re.findall(r"{(\w+)}", address)}
    assert names <= set(live_system.seeded.ids), sorted(names - set(live_system.seeded.ids))
