"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright,
against ``swarm ui`` and ``swarm run`` started as a user starts them (subprocesses).

No Chromium or no playwright package: the tests skip, saying which; ``.ci/run`` sets
``SWARM_REQUIRE_BROWSER=1``, which turns that skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.observe.conftest import LINK, SCRIPT, fill

pytest.importorskip("starlette", reason="the ui extra is not installed")

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--no-first-run",
]
SWARM = [sys.executable, "-c", "import sys; from swarm.cli import main; sys.exit(main())"]
WAIT_MS = 30_000


def _unavailable(why: str) -> None:
    if os.environ.get("SWARM_REQUIRE_BROWSER") == "1":
        pytest.fail(f"SWARM_REQUIRE_BROWSER=1 and {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        _unavailable("no `chromium` on PATH (Debian: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    opened.dialogs = dialogs
    try:
        yield opened
    finally:
        context.close()


class Dashboard:
    """``swarm ui`` in a subprocess, and the URL it printed."""

    def __init__(self, store: Path) -> None:
        self.process = subprocess.Popen(
            [*SWARM, "ui", "--store", f"sqlite:///{store}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            found = re.search(r" at (http://\S+)", line)
            if found:
                self.url = found.group(1)
                return
        raise AssertionError(f"swarm ui printed no address: {self.process.stderr!r}")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def finished(tmp_path: Path) -> Iterator[tuple[Dashboard, str]]:
    store = tmp_path / "swarm.db"
    run_id = trio.run(fill, store)
    dashboard = Dashboard(store)
    try:
        yield dashboard, run_id
    finally:
        dashboard.close()


def test_the_runs_list_shows_a_finished_run(page: Any, finished: tuple[Dashboard, str]) -> None:
    dashboard, run_id = finished
    page.goto(dashboard.url)
    row = page.locator(f'tr.run-row[data-run="{run_id}"]')
    row.wait_for()
    assert "succeeded" in row.inner_text() and "ui-test" in row.inner_text()
    row.get_by_role("link", name=run_id).click()
    page.wait_for_url(f"**/runs/{run_id}")
    assert page.locator("#run-status").inner_text() == "succeeded"


def test_the_lineage_tree_shows_a_fork_of_a_fork(
    page: Any, finished: tuple[Dashboard, str]
) -> None:
    dashboard, run_id = finished
    page.goto(f"{dashboard.url}runs/{run_id}")
    # base > a > c > d: d's node sits two lists below a's
    chain = page.locator(
        "ul.tree li.node:has(> a:text-is('a')) > ul > li.node:has(> a:text-is('c'))"
    )
    d = chain.locator("> ul > li.node > a:text-is('d')")
    assert d.count() == 1
    d.click()
    page.wait_for_url("**/sessions/**")
    assert page.locator("h1").inner_text().startswith("d")
    assert page.locator("ol.lineage li").count() == 4  # base, a, c, d


def test_agent_text_renders_as_text_never_as_markup(
    page: Any, finished: tuple[Dashboard, str]
) -> None:
    dashboard, run_id = finished
    page.goto(f"{dashboard.url}runs/{run_id}")
    for agent in ("xss", "link"):
        page.goto(f"{dashboard.url}runs/{run_id}")
        page.locator(f'tr.agent[data-agent="{agent}"] td a').click()
        page.wait_for_url("**/sessions/**")
        payload = SCRIPT if agent == "xss" else LINK
        text = page.locator("pre.text", has_text=payload).first
        assert text.is_visible()
        assert page.locator('a[href^="javascript:"]').count() == 0
        assert page.locator("main script").count() == 0
    assert page.dialogs == []


def test_pages_fit_a_laptop_and_a_narrow_window(page: Any, finished: tuple[Dashboard, str]) -> None:
    """Nothing overflows the page sideways at 1280x800 or at 420 px (wide tables scroll
    inside their own box); a screenshot of the run page is kept as an artefact."""
    dashboard, run_id = finished
    session = page.goto(f"{dashboard.url}runs/{run_id}")
    assert session is not None and session.ok
    href = page.locator('tr.agent[data-agent="d"] td a').get_attribute("href")
    for width, height in ((1280, 800), (420, 800)):
        page.set_viewport_size({"width": width, "height": height})
        for path in ("", f"runs/{run_id}", href.lstrip("/")):
            page.goto(dashboard.url + path)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path or '/'} overflows by {overflow}px at {width}px"
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{dashboard.url}runs/{run_id}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "run-page.png"), full_page=True)
    assert (ARTIFACTS / "run-page.png").stat().st_size > 10_000


LIVE_PLAN = """\
name: live-swarm
base: {prompt: shared context}
agents:
  - {id: first, prompt: one}
  - {id: second, prompt: two}
  - {id: third, prompt: three}
  - {id: fourth, prompt: four}
execution: {max_parallel: 1}
backend:
  name: simulated
  simulated: {latency_s: 2, jitter: 0}
"""


def test_a_run_in_another_process_appears_and_goes_live(page: Any, tmp_path: Path) -> None:
    """The dashboard is open on the runs page; a `swarm run` started afterwards in its own
    process appears there, and on its page each agent goes queued -> running ->
    succeeded, all without a reload."""
    store = tmp_path / "swarm.db"
    trio.run(fill, store)  # the store exists, with an older run
    dashboard = Dashboard(store)
    plan = tmp_path / "live.yaml"
    plan.write_text(LIVE_PLAN)
    run: subprocess.Popen[str] | None = None
    try:
        page.goto(dashboard.url)
        page.evaluate("window.__notReloaded = true")
        run = subprocess.Popen(
            [*SWARM, "run", str(plan), "--store", f"sqlite:///{store}", "-q"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        link = page.locator("tr.run-row:has-text('live-swarm') td a").first
        link.wait_for()
        assert page.evaluate("window.__notReloaded") is True  # it came over SSE
        link.click()
        page.wait_for_url("**/runs/**")
        page.evaluate("window.__notReloaded = true")
        last = 'tr.agent[data-agent="fourth"][data-status="{}"]'
        page.wait_for_selector(last.format("queued"))
        page.wait_for_selector(last.format("running"))
        page.wait_for_selector(last.format("succeeded"))
        page.wait_for_selector("#run-status:text-is('succeeded')")
        assert page.evaluate("window.__notReloaded") is True
        assert page.locator('tr.agent[data-status="succeeded"]').count() == 4
        _out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
    finally:
        if run is not None and run.poll() is None:
            run.kill()
            run.wait()
        dashboard.close()
