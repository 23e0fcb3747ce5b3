"""Materials and a paid repair, clicked through the real pages in both languages (docs/materials.md).

A centre head adds a material and records a stock-in; on a phone the
technician quotes a repair in a private flat (a quote written the German
way is refused first), the requester accepts it, and the technician
resolves with the material from the catalogue. Stock goes down, the
charge is recorded, and the head finds the low-stock notice.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_fits
from tests.browser.texts import BROWSER_LOCALES, texts


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_paid_repair_goes_through_quote_consent_and_resolution_with_materials(
    actors, live_system, language
):
    t = texts(language)
    locale = BROWSER_LOCALES[language]
    reference = live_system.seeded.tickets[f"paid_{language}"]
    code, name_en, name_zh = f"valve-{language}", f"Angle valve {language}", f"角阀{language}"
    name = name_zh if language == "zh" else name_en

    # The head adds the material to the catalogue and records its first delivery.
    head = actors.open("centre_head", "desktop", locale=locale)
    head.goto("/materials/repairs")
    head.get_by_label(t("Code"), exact=True).fill(code)
    head.get_by_label(t("Name in Chinese")).fill(name_zh)
    head.get_by_label(t("Name in English")).fill(name_en)
    head.get_by_label(t("Unit"), exact=True).fill("pcs")
    head.get_by_label(t("Unit cost (yuan)")).fill("12.50")
    head.get_by_label(t("Low-stock threshold")).fill("1")
    head.get_by_role("button", name=t("Add"), exact=True).click()
    expect(head.get_by_role("status")).to_contain_text(
        t("Material %(code)s added to the catalogue.", code=code)
    )
    head.get_by_label(t("Quantity received")).fill("3")
    head.get_by_role("button", name=t("Record the stock-in")).click()
    expect(head.locator("#stock")).to_contain_text("3 pcs")
    actors.shots.take(head, "stock-in")

    # On a phone, the technician quotes; a comma as decimal mark is refused, and nothing changes.
    tech = actors.open("technician", "phone", locale=locale)
    tech.goto(f"/tickets/{reference}")
    expect(tech.locator("#paid-repair")).to_be_visible()
    tech.get_by_label(t("Labour (yuan)")).fill("1.234,50")
    tech.get_by_role("button", name=t("Send the quote")).click()
    expect(tech.get_by_role("status")).to_contain_text(
        t(
            "“%(text)s” is ambiguous: write the decimal part after a point, for example 1234.50.",
            text="1.234,50",
        )
    )
    expect(tech.locator(".page-head .status")).to_have_text(t("On site"))
    tech.get_by_label(t("Labour (yuan)")).fill("80")
    tech.get_by_label(t("Materials (yuan)")).fill("¥25.00")
    tech.get_by_label(t("What the quote covers")).fill("New angle valve")
    tech.get_by_role("button", name=t("Send the quote")).click()
    expect(tech.locator(".page-head .status")).to_have_text(t("On hold"))
    expect(
        tech.get_by_text(t("On hold: %(reason)s", reason=t("Waiting for the requester to accept a quote")))
    ).to_be_visible()
    assert_fits(tech)
    actors.shots.take(tech, "quoted")

    # The requester accepts in the app: the recorded consent.
    requester = actors.open("requester", "phone", locale=locale)
    requester.goto(f"/tickets/{reference}")
    requester.get_by_role("button", name=t("Accept the quote of %(amount)s", amount="¥105.00")).click()
    expect(requester.get_by_role("status")).to_contain_text(
        t("You accepted the quote: the technician goes on with the work.")
    )
    assert_fits(requester)

    # The technician resolves with the material from the catalogue.
    tech.reload()
    expect(tech.locator(".page-head .status")).to_have_text(t("On site"))
    tech.get_by_label(t("What was done")).fill("Replaced the angle valve.")
    option = tech.locator("#material-1 option").filter(has_text=name)
    tech.get_by_label(t("Material %(n)d", n=1)).select_option(value=option.get_attribute("value"))
    tech.get_by_label(t("Quantity"), exact=True).first.fill("2")
    tech.get_by_role("button", name=t("Resolve"), exact=True).click()
    expect(tech.locator(".page-head .status")).to_have_text(t("Resolved"))
    expect(tech.locator("#materials-total")).to_have_text("¥25.00")
    expect(tech.locator("#final-charge")).to_contain_text("¥105.00")
    assert_fits(tech)
    actors.shots.take(tech, "resolved")

    # Stock went down to the threshold, and the head has the low-stock notice.
    head.goto("/materials/repairs")
    expect(head.locator(f"#material-{code} .stock")).to_contain_text("1")
    head.goto("/notifications")
    expect(
        head.get_by_text(
            t("Low stock: %(material)s, %(stock)s %(unit)s left", material=name, stock=1, unit="pcs")
        )
    ).to_be_visible()
    actors.shots.take(head, "low-stock-notice")
