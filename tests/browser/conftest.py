"""Browser tests: Debian's Chromium driven by Playwright against the app on a live server.

Every page a test visits goes through `BrowserUser.visit` or `BrowserUser.check`, which inject
axe-core (installed by `tests/browser/install.sh`), fail on any serious or critical violation and
record the figures per page; they also save a screenshot to `tests/browser/screenshots/`.
The pages run under the app's own Content Security Policy: a violation fails the test.
"""

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import require_service

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HERE = Path(__file__).resolve().parent
AXE_SCRIPT = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = HERE / "screenshots"
BLOCKING_IMPACTS = ("serious", "critical")

DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}

# Figures per page and device, printed at the end of the run and written beside the screenshots.
AXE_FIGURES: dict[str, dict[str, int]] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Chromium against a live server (make test-browser)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter) -> None:
    if not AXE_FIGURES:
        return
    terminalreporter.section("axe-core: violations per page (critical/serious/moderate/minor, rules passed)")
    for name, figures in sorted(AXE_FIGURES.items()):
        terminalreporter.write_line(
            f"{name:<48} {figures['critical']}/{figures['serious']}/{figures['moderate']}/"
            f"{figures['minor']}  passes={figures['passes']}"
        )
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / "axe-figures.json").write_text(json.dumps(AXE_FIGURES, indent=2, sort_keys=True))


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless Chromium for the run; each test opens its own contexts (cookies, viewport)."""
    require_service(f"Chromium ({CHROMIUM})", CHROMIUM.exists())
    require_service("axe-core (run tests/browser/install.sh)", AXE_SCRIPT.exists())
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on the test thread; the database calls that the
    # tests make between browser steps are synchronous all the same.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(params=list(DEVICES))
def device(request) -> str:
    """Each browser test runs at desktop size and at phone size."""
    return request.param


@dataclass
class BrowserUser:
    """One person's browser context and page, with the checks every visited page goes through."""

    page: object
    device: str
    test_name: str
    javascript: bool = True
    twin: Callable[[], object] | None = None
    problems: list[str] = field(default_factory=list)

    def visit(self, path: str, name: str) -> None:
        """Open a page and check it (axe-core and a screenshot) under the given short name."""
        response = self.page.goto(path)
        assert response is not None
        self.check(name)

    def check(self, name: str) -> None:
        """Run axe-core on the page as it is now, record its figures and save a screenshot."""
        self.page.wait_for_load_state("load")
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(
            path=str(SCREENSHOTS / f"{self.test_name}--{name}--{self.device}.png"), full_page=True
        )
        page = self.page if self.javascript else self.script_free_copy()
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            # Injected through the DevTools protocol: the page's own CSP allows no inline script.
            page.evaluate(AXE_SCRIPT.read_text())
        results = page.evaluate(
            "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
            " return {violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})), passes: r.passes.length}; }"
        )
        figures = {"critical": 0, "serious": 0, "moderate": 0, "minor": 0, "passes": results["passes"]}
        for violation in results["violations"]:
            figures[violation["impact"] or "minor"] += 1
        AXE_FIGURES[f"{name} [{self.device}]"] = figures
        blocking = [v for v in results["violations"] if v["impact"] in BLOCKING_IMPACTS]
        assert not blocking, f"axe-core on {name} ({self.device}): {json.dumps(blocking, indent=1)}"
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} ({self.device}) is {overflow}px wider than the screen"

    def script_free_copy(self):
        """The page as it is, in a twin page that runs scripts: axe-core cannot run where JavaScript
        is off, so it checks the same markup, without the app's own scripts, at the same size."""
        twin = self.twin()
        html = re.sub(r"<script\b.*?</script>", "", self.page.content(), flags=re.DOTALL)
        twin.set_content(html.replace("<head>", f'<head><base href="{self.page.url}">', 1), wait_until="load")
        return twin

    def wait_for_path(self, path: str) -> None:
        """Wait until the page's address has this path (after a form's redirect, say)."""
        self.page.wait_for_url(lambda url: urlparse(url).path == path)

    def tab_to(self, selector: str, *, limit: int = 80) -> None:
        """Press Tab until the element matching `selector` has the focus: forms are used by keyboard."""
        target = self.page.locator(selector)
        for _ in range(limit):
            if target.evaluate("element => element === document.activeElement"):
                return
            self.page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached {selector}")


@pytest.fixture
def open_browser(browser, live_server, device, request) -> Iterator[Callable[..., BrowserUser]]:
    """`open_browser(user, javascript=True)`: a signed-in person's page at this test's device size.

    Signing in goes through a session cookie made by Django's test client, so that tests spend
    their time on the pages under test; `test_sign_in.py` covers the sign-in form itself.
    """
    contexts = []
    users: list[BrowserUser] = []
    test_name = re.sub(r"[^A-Za-z0-9_]+", "-", request.node.originalname)

    def opener(user=None, *, javascript: bool = True) -> BrowserUser:
        context = browser.new_context(
            base_url=live_server.url,
            java_script_enabled=javascript,
            locale="en-GB",
            timezone_id="UTC",
            **DEVICES[device],
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            context.add_cookies(
                [
                    {
                        "name": settings.SESSION_COOKIE_NAME,
                        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                        "url": live_server.url,
                    }
                ]
            )
        page = context.new_page()
        browser_user = BrowserUser(
            page=page,
            device=device,
            test_name=test_name,
            javascript=javascript,
            twin=None if javascript else lambda: opener().page,
        )
        page.on("pageerror", lambda error: browser_user.problems.append(f"script error: {error}"))
        page.on(
            "console",
            lambda message: (
                browser_user.problems.append(f"console {message.type}: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        users.append(browser_user)
        return browser_user

    yield opener
    for context in contexts:
        context.close()
    problems = [problem for browser_user in users for problem in browser_user.problems]
    assert not problems, "\n".join(problems)
