"""As people use them, in headless Chromium (Debian's package, driven by Playwright): the
workshop dashboard offline and in Swedish, a lever and a run that update the figures, one run
week by week; and the planner's report as a browser shows it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")
playwright = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard():
    """`uvts dashboard` (Swedish by default) on a free local port, with small defaults.

    The engine's compiled kernels are built first, here (Numba keeps them on disk), as on any
    machine that has run the model once: on a fresh clone the server and its workers would
    otherwise each compile them (about 25 s of CPU each) while the pages wait."""
    from sim.model import UmeaModel

    warm = UmeaModel(seed=0, years=1, scenario=str(ROOT / "scenarios" / "uvts_2024_2026.yaml"))
    for _ in range(5):
        warm.step()
    port = _free_port()
    env = {**os.environ, "UVTS_DASHBOARD_YEARS": "2", "UVTS_DASHBOARD_REPLICATES": "2",
           "UVTS_SCENARIOS": str(ROOT / "scenarios")}
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "dashboard", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode(errors="replace")) from None
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("the dashboard did not start within 180 s")
    yield url
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Watch:
    """Every request that leaves this machine is refused and recorded; console errors too."""

    def __init__(self, page):
        self.external: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("response", lambda r: self.failed.append(r.url) if r.status >= 400 else None)
        page.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "file://")):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()


def _src(page, css: str) -> str:
    return page.locator(f"{css} img").first.get_attribute("src")


def test_dashboard_offline_swedish_lever_and_run_update_the_figures(dashboard, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    watch = Watch(page)
    t0 = time.monotonic()
    page.goto(dashboard)
    page.wait_for_selector(".uvts-counterfactual img", timeout=120_000)  # the first look
    first_look = time.monotonic() - t0
    for text in ("Scenario att utvärdera", "Jämfört med", "Reglage", "Kontrafaktiskt",
                 "Stadsdelar", "Vecka för vecka", "UVTS aktivitetsplan 2024–2026"):
        assert page.get_by_text(text).count() > 0, text
    headline = page.locator(".uvts-headline").inner_text()
    assert "Barn som hålls utanför periferin" in headline and "90\u00a0%" in headline
    before = _src(page, ".uvts-counterfactual")
    page.wait_for_function("!document.querySelector('.uvts-run').disabled", timeout=120_000)
    # a lever: switch the Support and Care department's measures off, then run
    page.get_by_text("Förvaltningar (kryssa ur för att stänga av)").click()
    box = page.get_by_label("Stöd och omsorg", exact=True)
    page.locator("label", has_text="Stöd och omsorg").filter(
        has_not_text="ordinarie").first.click()  # Vuetify: the label is what a person clicks
    assert not box.is_checked()
    page.locator(".uvts-run").click()
    page.wait_for_function(
        "s => { const i = document.querySelector('.uvts-counterfactual img');"
        " return i && i.getAttribute('src') !== s; }", arg=before, timeout=120_000)
    page.wait_for_function("!document.querySelector('.uvts-run').disabled", timeout=120_000)
    assert page.locator(".uvts-headline").inner_text() != headline
    assert "parade körningar över 2 år" in page.locator(".uvts-status").inner_text()
    page.screenshot(path=str(tmp_path / "dashboard.png"))
    # the districts on the schematic map
    page.get_by_role("tab", name="Stadsdelar").click()
    page.wait_for_selector(".uvts-map img", timeout=30_000)
    assert page.get_by_text("Schematisk karta över Umeås stadsdelar").count() == 1
    assert watch.external == [] and watch.failed == [], (watch.external, watch.failed)
    assert watch.errors == [], watch.errors
    assert first_look < 90  # seconds; measured in the README on a quiet machine


def test_dashboard_steps_one_run_week_by_week(dashboard, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    watch = Watch(page)
    page.goto(dashboard)
    page.get_by_role("tab", name="Vecka för vecka").click()
    page.get_by_role("button", name="Ny körning").click()
    page.wait_for_selector(".uvts-network img", timeout=60_000)
    assert "Vecka 0" in page.locator(".uvts-week").inner_text()
    before = _src(page, ".uvts-network")
    page.get_by_role("button", name="+4 veckor").click()
    page.wait_for_function("() => document.querySelector('.uvts-week').innerText.includes('Vecka 4')",
                           timeout=60_000)
    page.wait_for_function(
        "s => document.querySelector('.uvts-network img').getAttribute('src') !== s",
        arg=before, timeout=60_000)
    assert watch.external == [] and watch.errors == [], (watch.external, watch.errors)


def test_report_renders_in_the_browser(compared, browser):
    out, _ = compared
    from sim.cli import main

    if not (out / "report_sv.html").exists():
        assert main(["report", str(out), "--lang", "sv", "--no-pdf"]) == 0
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    watch = Watch(page)
    page.goto((out / "report_sv.html").as_uri())
    assert "Huvudresultat" in page.locator("h2").all_inner_texts()
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) >= 2 and all(w > 300 for w in widths)
    assert page.locator("#headline").is_visible()
    assert watch.external == [] and watch.errors == [] and watch.failed == []
