"""The report in a real browser: headless Chromium shows the summary and a failed test's diff, and the page
asks the network for nothing but itself. CI installs Debian's chromium (.ci/run); without it this fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .chromium import Chromium, find_chromium
from .conftest import Bundle

MISSING = ("expected Debian's chromium at /usr/bin/chromium for the report's browser test, saw none; "
           "install it with `apt-get install -y chromium` (.ci/run does this in CI)")


@pytest.fixture(scope="module")
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
    server_cases = len(list((failed_bundle.out.parent / "testcases" / "server").glob("*.yaml"))) - 1  # LAB-001
    assert [" ".join(card.split()) for card in cards] == [
        f"{server_cases} passed", "1 failed", "0 error", "0 skipped", "0 not applicable", f"{server_cases + 1} total"]
    # innerText holds only what is rendered: the failed test's diff is on screen without a click.
    failed = browser.evaluate(session, "document.getElementById('tCORE-005').innerText")
    assert "- expected: 7" in failed and "+ observed: '3'" in failed
    assert "resource.quality" in failed and "expected (test case) and observed (DUT)" in failed
    coverage = browser.evaluate(session, "document.getElementById('coverage').nextElementSibling.innerText")
    # LAB-001 is not a catalogue procedure; CORE-005 is the failed one.
    assert f"passed {server_cases - 1}" in coverage and "failed 1" in coverage

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
