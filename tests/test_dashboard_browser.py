"""The HTML dashboard that `dashboards` writes, opened the way an analyst opens it: in a browser, offline.

Headless Chromium (Debian's `chromium`) loads the real file from a real run. The test is
skipped when Chromium is absent on a developer machine and fails instead when
ECOMCTL_REQUIRE_BROWSER=1 (as .ci/run sets it), so CI cannot pass by skipping it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ecomctl.dashboards.definitions import load_queries
from ecomctl.dashboards.html import MAX_TABLE_ROWS

SQL_ROOT = Path(__file__).resolve().parents[1] / "sql"
QUERIES = load_queries(SQL_ROOT)
WINDOW = (1280, 2400)
# Read at import: the autouse fixture in conftest.py removes every ECOMCTL_ variable before a test runs.
REQUIRE_BROWSER = os.environ.get("ECOMCTL_REQUIRE_BROWSER") == "1"
_SETTINGS = ("ECOMCTL_", "DATABRICKS_", "EVENTHUB_", "KEYVAULT_", "AZURE_")

# Runs inside a test copy of the page only (the dashboard itself has no script): records, for
# every KPI card and panel, what the browser laid out with a non-zero size, and every resource
# the page asked for.
PROBE = """
<script>
(function () {
  const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const count = (root, selector) => [...root.querySelectorAll(selector)].filter(shown).length;
  const out = {
    resources: performance.getEntriesByType("resource").map(e => e.name),
    kpis: [...document.querySelectorAll(".kpi")].filter(shown).map(k => k.innerText.trim()),
    panels: [...document.querySelectorAll("section.panel")].map(s => ({
      query: s.dataset.query, chart: s.dataset.chart, shown: shown(s),
      title: s.querySelector("h2").innerText,
      svgs: count(s, "svg.chart"),
      marks: count(s, "svg rect, svg polyline, svg circle"),
      ticks: count(s, "svg text.tick"),
      rows: count(s, "tbody tr"),
      tiles: count(s, ".tile"),
    })),
  };
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def chromium() -> str:
    path = shutil.which("chromium")
    if path:
        return path
    reason = "chromium is not installed (Debian: apt-get install chromium); .ci/run installs it"
    if REQUIRE_BROWSER:
        pytest.fail(f"ECOMCTL_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def run_chromium(binary: str, profile: Path, *args: str) -> str:
    command = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        # Offline: any host name the page might ask for fails to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}", *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory) -> tuple[Path, dict]:
    """A real run-all's dashboard file and the JSON report of its dashboards step."""
    from typer.testing import CliRunner

    from ecomctl.cli.main import app

    folder = tmp_path_factory.mktemp("browser")
    no_settings = folder / "empty.env"  # not the ./.env of wherever the tests run
    no_settings.write_text("")
    argv = ["--home", str(folder / "home"), "--env-file", str(no_settings), "--json",
            "run-all", "--count", "400", "--seed", "11", "--as-of", "2026-11-01"]
    result = CliRunner().invoke(app, argv, env={k: None for k in os.environ if k.startswith(_SETTINGS)})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    step = next(s for s in report["steps"] if s["step"] == "dashboards")
    return Path(step["details"]["dashboard"]), step


def test_the_dashboard_has_no_network_reference(dashboard):
    page = dashboard[0].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"[a-z][a-z0-9+.-]*://", page, re.I), "an absolute URL in the page"
    for reference in ("<script", "<link", "<img", "<iframe", "<object", "@import", "url(",
                      " src=", " href=", "srcset="):
        assert reference not in page, reference


@pytest.mark.slow
def test_every_panel_renders_in_headless_chromium(dashboard, tmp_path):
    path, step = dashboard
    binary = chromium()
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                          encoding="utf-8")
    dom = run_chromium(binary, tmp_path / "profile", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                       "--dump-dom", probe_page.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe did not run: the page did not load"
    probe = json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))

    assert probe["resources"] == []  # nothing fetched: the page is self-contained
    figures = step["details"]["key_figures"]
    assert len(probe["kpis"]) == len(figures) > 0
    for card, (label, value) in zip(probe["kpis"], figures.items()):
        assert value in card and label.lower() in card.lower()

    rows = {o["object"].removeprefix("query "): o["rows"] for o in step["objects"]
            if o["object"].startswith("query ")}
    assert [p["query"] for p in probe["panels"]] == [q.name for q in QUERIES]
    for panel, query in zip(probe["panels"], QUERIES):
        assert panel["shown"] and panel["title"] == query.title, panel
        assert rows[query.name] > 0, f"{query.name} returned no rows: nothing to show"
        if query.chart == "counter":
            assert panel["tiles"] >= 1, panel
            continue
        assert panel["rows"] == min(rows[query.name], MAX_TABLE_ROWS), panel
        if query.chart == "bar":
            assert panel["svgs"] == 1 and panel["marks"] >= 1, panel
        elif query.chart == "line":
            assert panel["svgs"] == 1 and panel["marks"] >= 2, panel   # the line and its points
            assert panel["ticks"] >= 6, panel  # a few values on y and dates on x, not 0 / max


@pytest.mark.slow
def test_the_screenshot_is_not_blank(dashboard, tmp_path):
    """A screenshot of the dashboard carries far more picture than one of an empty page."""
    path, _ = dashboard
    binary = chromium()
    blank_page = tmp_path / "blank.html"
    blank_page.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    sizes = {}
    for name, page in (("dashboard", path), ("blank", blank_page)):
        shot = tmp_path / f"{name}.png"
        run_chromium(binary, tmp_path / f"profile-{name}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                     "--hide-scrollbars", f"--screenshot={shot}", page.as_uri())
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == WINDOW  # IHDR: width, height
        sizes[name] = sum(len(chunk) for chunk in _idat_chunks(data))
    # An empty 1280x2400 page compresses to about 14 kB, the dashboard to about 300 kB.
    assert sizes["dashboard"] > 5 * sizes["blank"], sizes


def _idat_chunks(png: bytes):
    """The compressed image data of a PNG: its size is a fair measure of how much is drawn."""
    at = 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        if kind == b"IDAT":
            yield png[at + 8:at + 8 + length]
        at += 12 + length
