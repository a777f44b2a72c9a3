"""The dashboard in a real browser: headless Debian Chromium, driven by Selenium.

Each page is opened as a person would (sign in first), its key elements are
checked, and a screenshot is saved under ``tests/artifacts/`` (ignored by
git) for a person to look at. Without Chromium and ChromeDriver the test is
skipped, unless ``FLYWHEEL_BROWSER_TEST=required`` (as ``.ci/run`` sets it,
after installing them), where it fails instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Flywheel
from tests.test_dashboard import TOKEN, boards, community_network, dashboard  # noqa: F401

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--window-size=1280,1600",
]  # fmt: skip


def browser_or_skip() -> Any:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("FLYWHEEL_BROWSER_TEST") == "required":
            pytest.fail("Chromium and ChromeDriver are required here: apt-get install chromium "
                        "chromium-driver")  # fmt: skip
        pytest.skip("no Debian chromium/chromium-driver here (apt-get install them to run this)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={ARTIFACTS / '.profile'}")
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def leave_page(driver: Any, action: Any) -> None:
    """Do ``action`` and return once the next page has replaced this one and is complete.

    Waiting for the URL alone is not enough: the sign-in page is served at the URL it guards,
    and a URL changes before its page is parsed, so an element found then can be the old
    page's and stale a call later (seen in CI). The old page is marked in its own window
    object, which a navigation replaces; calls made while the pages change may fail in
    several ways (stale node, node not in the document), so the wait ignores them.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.flywheelOldPage = true")
    action()
    WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return !window.flywheelOldPage && document.readyState === 'complete'"
        )
    )


def visit(base: str) -> dict[str, Any]:
    """Everything a person would do, in the browser (a thread: the app runs on the loop)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as arrived
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(exist_ok=True)
    shutil.rmtree(ARTIFACTS / ".profile", ignore_errors=True)
    seen: dict[str, Any] = {}
    driver = browser_or_skip()
    driver.implicitly_wait(10)  # elements a page has not drawn yet are waited for
    wait = WebDriverWait(driver, 15)  # a click returns before the next page is there
    try:
        driver.get(base + "/communities")
        seen["login_title"] = driver.title
        driver.save_screenshot(str(ARTIFACTS / "dashboard-sign-in.png"))
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        sign_in = driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button")
        leave_page(driver, sign_in.click)
        wait.until(arrived.url_matches(r"/communities$"))
        seen["after_login"] = driver.current_url
        seen["communities_h1"] = driver.find_element(By.TAG_NAME, "h1").text
        seen["circles"], seen["rows"] = driver.execute_script(
            "return [document.querySelectorAll('#graph circle').length,"
            " Array.from(document.querySelectorAll('#communities tbody tr'), r => r.id)]"
        )
        seen["graph_size"] = driver.find_element(By.ID, "graph").size
        driver.save_screenshot(str(ARTIFACTS / "dashboard-communities.png"))

        leave_page(driver, driver.find_element(By.LINK_TEXT, "Operations").click)
        wait.until(arrived.url_matches(r"/$"))
        seen["mode"] = driver.find_element(By.ID, "mode").text
        seen["delivery_rows"] = len(driver.find_elements(By.CSS_SELECTOR, "#deliveries tbody tr"))
        seen["rates"] = len(driver.find_elements(By.CSS_SELECTOR, "#rates tbody tr"))
        driver.save_screenshot(str(ARTIFACTS / "dashboard-operations.png"))
        select = driver.find_element(By.ID, "outcome")
        select.find_element(By.CSS_SELECTOR, "option[value='done']").click()
        leave_page(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button").click)
        wait.until(arrived.url_contains("outcome=done"))
        seen["filtered_url"] = driver.current_url
        badges = driver.find_elements(By.CSS_SELECTOR, "#deliveries .badge")
        seen["filtered_states"] = sorted({b.text for b in badges})

        driver.get(base + "/consortia/gpu-teaching-hubs")
        seen["consortium_h1"] = driver.find_element(By.TAG_NAME, "h1").text
        seen["members"] = [
            cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#members tbody th")
        ]
        seen["initiatives"] = len(driver.find_elements(By.CSS_SELECTOR, "#initiatives tbody tr"))
        driver.save_screenshot(str(ARTIFACTS / "dashboard-consortium.png"))

        # A phone: 390 CSS pixels wide. Nothing may push the page sideways.
        driver.set_window_size(390, 844)
        seen["phone"] = {}
        for path in ("/", "/communities", "/connections", "/consortia/gpu-teaching-hubs"):
            driver.get(base + path)
            driver.find_element(By.TAG_NAME, "h1")
            seen["phone"][path] = driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
        driver.save_screenshot(str(ARTIFACTS / "dashboard-phone.png"))
    finally:
        driver.quit()
    return seen


async def test_each_page_in_headless_chromium(dashboard: Flywheel) -> None:  # noqa: F811
    await community_network(dashboard)
    base = str(dashboard.client.make_url("")).rstrip("/")
    seen = await asyncio.to_thread(visit, base)
    assert seen["login_title"] == "Sign in · Flywheel"
    assert seen["after_login"].endswith("/communities")
    assert seen["communities_h1"] == "Communities"
    assert seen["circles"] == 3
    assert {"c-hypatia", "c-lovelace", "c-curie"} <= set(seen["rows"])
    assert seen["graph_size"]["width"] > 300, "the picture is drawn at a readable size"
    assert seen["mode"] == "live"
    assert seen["delivery_rows"] >= 8 and seen["rates"] == 1
    assert seen["filtered_url"].endswith("/?outcome=done&repo=")
    assert seen["filtered_states"] == ["done"]
    assert "GPU teaching hubs" in seen["consortium_h1"]
    assert seen["members"] == ["hypatia", "lovelace"]
    assert seen["initiatives"] == 1
    wide = {path: sizes for path, sizes in seen["phone"].items() if sizes[0] > sizes[1]}
    assert wide == {}, "pages wider than a 390-px phone screen"
    for name in ("sign-in", "communities", "operations", "consortium", "phone"):
        assert (ARTIFACTS / f"dashboard-{name}.png").stat().st_size > 5000
