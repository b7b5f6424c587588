"""The report in a real browser: headless Chromium shows the summary and a failed test's diff, and the page
asks the network for nothing but itself. tests/run (which CI runs) installs Debian's chromium when it is missing;
without it this fails, never skips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .chromium import Chromium, find_chromium
from .conftest import Bundle

MISSING = ("expected Debian's chromium at /usr/bin/chromium (or the executable CSIP_CHROMIUM names) for the report's "
           "browser test, saw none; run the tests with tests/run, which installs it, or `apt-get install -y chromium`")


# Session-scoped, as the bundle it shows is: pytest then sets it up first, so that a missing chromium is reported
# at once, not after a whole run of the suite has been made for nothing.
@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Chromium:
    executable = find_chromium()
    if executable is None:
        pytest.fail(MISSING, pytrace=False)
    with Chromium(executable, tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


def test_report_in_headless_chromium(browser: Chromium, failed_bundle: Bundle, tmp_path: Path) -> None:
    report = failed_bundle.out / "report.html"
    session = browser.open(report.as_uri())
    assert browser.requested_urls() == [report.as_uri()]  # the page itself, nothing else

    cards = browser.evaluate(session, "[...document.querySelectorAll('.cards .card')].map(c => c.innerText)")
    # The run is the bundle's own case folder (CORE-005 failing under its defect, and LAB-001).
    total = len(list((failed_bundle.out.parent / "testcases" / "server").glob("*.yaml")))
    assert [" ".join(card.split()) for card in cards] == [
        f"{total - 1} passed", "1 failed", "0 error", "0 skipped", "0 not applicable", f"{total} total"]
    # innerText holds only what is rendered: the failed test's diff is on screen without a click.
    failed = browser.evaluate(session, "document.getElementById('tCORE-005').innerText")
    assert "- expected: 7" in failed and "+ observed: '3'" in failed
    assert "resource.quality" in failed and "expected (test case) and observed (DUT)" in failed
    coverage = browser.evaluate(session, "document.getElementById('coverage').nextElementSibling.innerText")
    assert f"passed {total - 2}" in coverage and "failed 1" in coverage  # LAB-001 is not a catalogue procedure

    # The first screen states the outcome and the deviations before any table of tests: a lab reads the verdict first.
    first_screen = browser.evaluate(session, "[...document.querySelectorAll('#conclusion, .conclusion, #deviations, "
                                             "#deviations + table')].map(e => e.getBoundingClientRect().bottom"
                                             " <= window.innerHeight)")
    assert first_screen == [True, True, True, True]
    conclusion = browser.evaluate(session, "document.querySelector('.conclusion').innerText")
    assert conclusion.startswith("Server role: 1 procedure(s) failed: CORE-005")
    deviation = browser.evaluate(session, "document.querySelector('#deviations + table tbody').innerText")
    assert "CORE-005" in deviation and "failed" in deviation and "resource.quality: expected 7, saw '3'" in deviation
    top = browser.screenshot(session, tmp_path / "report-top.png")
    browser.evaluate(session, "document.getElementById('tCORE-005').scrollIntoView()")
    diff = browser.screenshot(session, tmp_path / "report-failed-test.png")
    for shot in (top, diff):
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    print(f"screenshots: {top} {diff}")

    # On screen a passed test's exchanges are folded away; printed, every section is open.
    folded = "document.querySelector('#tCORE-004 details').innerText.includes('<DeviceCapability xmlns')"
    assert browser.evaluate(session, folded) is False
    browser.send("Emulation.setEmulatedMedia", {"media": "print"}, session=session)
    assert browser.evaluate(session, folded) is True
    print(json.dumps(browser.requested_urls()))
