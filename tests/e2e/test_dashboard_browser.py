"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright (the
system's browser, no download). The worker and the web application run as a user starts them;
events produced on the broker change a figure on the open page (server-sent events), and a
manager sees their own municipality only. Screenshots go to the test output folder
(`YRKESRESAN_TEST_OUTPUT`, default `var/test-output`), under `dashboard/`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer
from playwright.sync_api import Browser, Page, expect, sync_playwright

from shared.events import Envelope, new_envelope
from shared.events.models import ParticipantRegistered
from shared.platform.broker import LocalBroker, ensure_topics
from shared.platform.db import Database
from tests.ports import process_on_a_port, start_broker
from yrkesresan.demo import demo_envelopes

pytestmark = pytest.mark.e2e

OUTPUT = Path(os.environ.get("YRKESRESAN_TEST_OUTPUT", "var/test-output")) / "dashboard"


def chromium() -> str:
    """Debian's chromium, which `make setup` installs; a missing browser fails the test."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "chromium is not installed: run `make setup` (Debian package `chromium`)"
    return path


def _produce(bootstrap: str, envs: list[Envelope]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for env in envs:
        producer.send(env.topic, key=env.key().encode(), value=env.to_json())
    producer.flush()
    producer.close()


def _applied(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM applied_events WHERE consumer = 'dashboard'")[0][0])


@pytest.fixture
def broker() -> Iterator[LocalBroker]:
    """A broker of this test's own (not the session's): the worker reads its topics from the
    start, and the session's broker holds what every other test produced."""
    broker = start_broker()
    ensure_topics(broker.bootstrap)
    yield broker
    broker.stop()


@pytest.fixture
def dashboard(broker: LocalBroker, tmp_path: Path) -> Iterator[tuple[str, Database]]:
    """Worker and web application as processes on a fresh database; the demo log produced.
    Each process is started on a port drawn at random and started again on another if it
    exits (its port was taken: a full run has many servers listening), and the web
    application counts as up only when its own sign-in page answers (another server on the
    port answered the health check once, and the browser met its 404)."""
    url = f"sqlite:///{tmp_path / 'dashboard.sqlite'}"
    env = {**os.environ, "KAFKA_BOOTSTRAP": broker.bootstrap,
           "YRKESRESAN_DASHBOARD_DATABASE_URL": url, "YRKESRESAN_DASHBOARD_DEV_SIGNIN": "1"}
    subprocess.run([sys.executable, "-m", "yrkesresan", "migrate", "-s", "dashboard"], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    envs = list(demo_envelopes(60, seed=11))
    _produce(broker.bootstrap, envs)
    logs = (tmp_path / "worker.log").open("wb"), (tmp_path / "web.log").open("wb")
    db = Database(url)
    procs: list[subprocess.Popen[bytes]] = []

    def command(*args: str) -> Callable[[int], list[str]]:
        return lambda port: [sys.executable, "-m", "yrkesresan", "dashboard", *args, str(port)]

    try:
        # bounded generously: on a shared 2-core machine a start can take a minute
        process_on_a_port(command("worker", "--group-id", f"browser-{os.getpid()}",
                                    "--ops-port"),
                          env=env, log=logs[0], ready=lambda *_: _applied(db) == len(envs),
                          seconds=300, started=procs)
        _, port = process_on_a_port(command("web", "--port"), env=env, log=logs[1],
                                    ready=lambda web, _: _signs_in(f"http://127.0.0.1:{web}"),
                                    seconds=120, started=procs)
        yield f"http://127.0.0.1:{port}", db
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        for log in logs:
            log.close()
        db.close()


def _signs_in(base: str) -> bool:
    """The dashboard's own development sign-in answers on `base` (not another server's)."""
    try:
        page = httpx.get(f"{base}/logga-in", timeout=1)
    except httpx.HTTPError:
        return False
    return page.status_code == 200 and 'id="role"' in page.text


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


SLOW_CHARTS = """() => {
  // each chart's redraw made slow, as plotly's is on a busy machine; when the figure's new
  // text is delivered (a mutation observer's callback: once the task that set it has ended),
  // and when each redraw began
  window.figureShown = [];
  window.chartsDrawn = [];
  const react = Plotly.react;
  Plotly.react = (...args) => {
    window.chartsDrawn.push(performance.now());
    const until = performance.now() + 300;
    while (performance.now() < until) { /* busy, as a slow redraw */ }
    return react(...args);
  };
  new MutationObserver(() => window.figureShown.push(performance.now())).observe(
    document.querySelector("[data-figure=registered]"),
    {childList: true, characterData: true, subtree: true});
}"""


def _months(first: str, last: str) -> list[str]:
    """Every month "YYYY-MM" from `first` to `last`."""
    year, month = map(int, first.split("-"))
    out = [first]
    while out[-1] < last:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        out.append(f"{year:04d}-{month:02d}")
    return out


def _sign_in(page: Page, base: str, role: str, scope: str = "") -> None:
    page.goto(f"{base}/logga-in")
    page.select_option("#role", role)
    page.fill("#scope", scope)
    page.click("button[type=submit]")


def test_figures_change_live_and_a_manager_sees_only_their_municipality(
    dashboard: tuple[str, Database], browser: Browser, broker: LocalBroker
) -> None:
    base, db = dashboard
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1800}, locale="sv-SE")
    _sign_in(page, base, "national_analyst")
    expect(page).to_have_url(f"{base}/oversikt")
    expect(page.locator("h1")).to_have_text("Nationell överblick")
    expect(page.locator("#chart-months .main-svg").first).to_be_visible(timeout=30_000)
    # the chart per month has every month from the first to the last, not only those with
    # figures (the demo log has months without any: a line through the others misleads)
    held = sorted(month for (month,) in db.execute(
        "SELECT substr(key, 7) FROM dashboard_cells WHERE dimension = 'month'")
        if month != "okänd")
    assert page.evaluate("document.getElementById('chart-months').data[0].x") == _months(
        held[0], held[-1])
    registered = page.locator("[data-figure=registered]")
    expect(registered).to_have_text("60")
    page.screenshot(path=OUTPUT / "oversikt-fore.png", full_page=True)

    falun = page.locator("#children a").first
    region_name = falun.inner_text()
    municipality_id = db.execute(
        "SELECT id FROM (SELECT key, substr(key, 14) AS id FROM dashboard_cells "
        "WHERE dimension = 'municipality' ORDER BY key) LIMIT 1")[0][0]
    newcomers = [new_envelope(ParticipantRegistered(
        participant_id=f"browser-{n}", municipality_id=municipality_id, journey="barn-och-unga",
        role="socialsekreterare", level="ny", years_in_profession=1)) for n in range(3)]
    page.evaluate(SLOW_CHARTS)
    _produce(broker.bootstrap, newcomers)
    expect(registered).to_have_text("63", timeout=15_000)  # pushed over server-sent events
    # the new figures reached the screen before the charts were redrawn, not after the last
    shown, drawn = page.evaluate("[window.figureShown, window.chartsDrawn]")
    assert shown and drawn and shown[0] < drawn[0], (shown, drawn)
    page.screenshot(path=OUTPUT / "oversikt-efter.png", full_page=True)

    falun.click()
    expect(page.locator("h1")).to_contain_text(region_name)
    expect(page.locator("#chart-children .main-svg").first).to_be_visible(timeout=30_000)
    page.screenshot(path=OUTPUT / "region.png", full_page=True)
    others = [href.split("/")[-1] for href in page.locator("#children a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")]
    other = next(m for m in others if m != municipality_id)

    manager = browser.new_page(viewport={"width": 1400, "height": 1200}, locale="sv-SE")
    _sign_in(manager, base, "municipal_admin", municipality_id)
    expect(manager).to_have_url(f"{base}/oversikt/kommun/{municipality_id}")
    expect(manager.locator("#children")).to_have_count(0)
    expect(manager.locator("nav.crumbs a")).to_have_count(0)
    expect(manager.locator("#chart-own .main-svg").first).to_be_visible(timeout=30_000)
    manager.screenshot(path=OUTPUT / "chef-kommun.png", full_page=True)
    for path in (f"/oversikt/kommun/{other}", "/oversikt", f"/stationen/{other}"):
        manager.goto(base + path)
        expect(manager.locator("body")).not_to_contain_text(f"{other} kommun")
    manager.goto(f"{base}/oversikt/kommun/{other}")
    expect(manager.locator(".notice")).to_contain_text("utanför ditt område")
    manager.goto(f"{base}/stationen")
    expect(manager).to_have_url(f"{base}/stationen/{municipality_id}")
    expect(manager.locator("#staff-missing")).to_contain_text("svarar inte")
    manager.screenshot(path=OUTPUT / "chef-stationen.png", full_page=True)
