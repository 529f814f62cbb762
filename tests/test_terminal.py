"""The terminal as a person and a CI log see it: bar charts after dashboards, NO_COLOR, shell completion."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal

import duckdb
import pytest

ESCAPE = "\x1b"


def bar_rows(output: str, title: str) -> list[tuple[str, Decimal, int, str]]:
    """(label, net revenue, orders, bar) for each row of the bar chart titled `title`."""
    block = output.split(title, 1)[1].split("└", 1)[0]
    rows = []
    for line in block.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 4 and cells[1]:
            rows.append((cells[0], Decimal(cells[1].replace(",", "")), int(cells[2].replace(",", "")),
                         cells[3]))
    return rows


def bar_length(bar: str) -> float:
    """Characters of bar, counting Rich's eighth blocks (▏ … ▉) as fractions of one █."""
    eighths = {"▏": 1, "▎": 2, "▍": 3, "▌": 4, "▋": 5, "▊": 6, "▉": 7}
    return sum(1 if c == "█" else eighths.get(c, 0) / 8 for c in bar)


def test_dashboards_draws_top_brands_and_cities_as_bars(cli, home):
    assert cli("run-all", "--count", "200", "--seed", "5", "--as-of", "2026-11-01").exit_code == 0
    result = cli("--json", "dashboards", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    con = duckdb.connect(str(home / "ecommerce.duckdb"), read_only=True)
    try:
        brands = con.execute("SELECT brand, net_revenue, order_count FROM gold.mv_top_brands "
                             "ORDER BY net_revenue DESC, brand LIMIT 5").fetchall()
        cities = con.execute("SELECT concat_ws(', ', city, state), net_revenue, order_count "
                             "FROM gold.location_performance ORDER BY net_revenue DESC, city, state "
                             "LIMIT 5").fetchall()
    finally:
        con.close()

    for title, expected in (("top brands by net revenue", brands), ("top cities by net revenue", cities)):
        rows = bar_rows(result.stderr, title)
        assert [(label, revenue, orders) for label, revenue, orders, _ in rows] == expected, title
        lengths = [bar_length(bar) for *_, bar in rows]
        width = lengths[0]
        assert 12 <= width <= 40 and all(set(bar) <= set("█▏▎▍▌▋▊▉") for *_, bar in rows)
        for (_, revenue, _, _), length in zip(rows, lengths):  # each bar in proportion, to one character
            assert abs(length - width * float(revenue / expected[0][1])) <= 1, (title, revenue, length)
        assert max(len(line) for line in result.stderr.split(title, 1)[1].splitlines()[:10]) <= 80

    step = json.loads(result.stdout)["steps"][0]
    assert step["charts"] == {"top brands by net revenue": "net_revenue",
                              "top cities by net revenue": "net_revenue"}
    assert step["tables"]["top cities by net revenue"][0] == ["location", "net_revenue", "order_count"]


def run_ecomctl(args: list[str], home, **env: str) -> subprocess.CompletedProcess:
    """ecomctl in its own process, so that Rich sees the real environment (FORCE_COLOR, NO_COLOR)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "ecomctl", "--home", str(home), *args],
                          capture_output=True, text=True, env=environment, timeout=300)


@pytest.mark.slow
def test_no_color_means_no_escape_sequences_even_on_a_forced_terminal(home):
    forced = run_ecomctl(["run-all", "--count", "20", "--seed", "1"], home, FORCE_COLOR="1")
    assert forced.returncode == 0, forced.stderr
    assert ESCAPE in forced.stdout  # the control: a forced terminal is styled

    plain = run_ecomctl(["run-all", "--count", "20", "--seed", "1"], home, FORCE_COLOR="1", NO_COLOR="1")
    assert plain.returncode == 0, plain.stderr
    assert ESCAPE not in plain.stdout + plain.stderr
    assert "top brands by net revenue" in plain.stdout and "█" in plain.stdout
    assert re.search(r"^ingest: finished in", plain.stdout, re.M)  # no live progress: plain lines

    for args in (["--help"], ["run-all", "--help"], ["generate", "--count", "lots"], ["transform"]):
        result = run_ecomctl(args, home / "fresh", FORCE_COLOR="1", NO_COLOR="1")
        assert ESCAPE not in result.stdout + result.stderr, args


@pytest.mark.slow
def test_shell_completion_for_bash(home):
    # --show-completion detects the shell from its parent process: run it from bash (bash -c
    # without exec stays the parent), whatever started the tests (an orphaned pytest has none).
    command = [sys.executable, "-m", "ecomctl", "--home", str(home), "--show-completion"]
    shown = subprocess.run(["bash", "-c", '"$@"; exit $?', "bash", *command],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "_ECOMCTL_COMPLETE=complete_bash" in shown.stdout
    assert "complete -o default -F _ecomctl_completion ecomctl" in shown.stdout

    # What bash does on <TAB> after `ecomctl ru`, through the script above.
    environment = {**os.environ, "_ECOMCTL_COMPLETE": "complete_bash", "COMP_WORDS": "ecomctl ru",
                   "COMP_CWORD": "1"}
    completed = subprocess.run([sys.executable, "-m", "ecomctl"], capture_output=True, text=True,
                               env=environment, timeout=60)
    assert completed.returncode == 0 and completed.stdout.split() == ["run-all"]

    environment.update(COMP_WORDS="ecomctl run-all --s", COMP_CWORD="2")
    completed = subprocess.run([sys.executable, "-m", "ecomctl"], capture_output=True, text=True,
                               env=environment, timeout=60)
    assert "--seed" in completed.stdout.split()

    # The values of --target complete too.
    for words, expected in (("ecomctl --target ", ["local", "databricks"]),
                            ("ecomctl --target d", ["databricks"])):
        environment.update(COMP_WORDS=words, COMP_CWORD="2")
        completed = subprocess.run([sys.executable, "-m", "ecomctl"], capture_output=True,
                                   text=True, env=environment, timeout=60)
        assert completed.stdout.split() == expected, words


def test_help_lists_completion_options(cli):
    result = cli("--help", use_home=False)
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout


@pytest.mark.slow
def test_send_from_a_terminal_says_what_it_waits_for(home):
    """`send -` with a terminal on standard input tells the user to type or paste events and end
    with Ctrl-D, instead of waiting in silence; the line typed is sent."""
    import pty

    assert run_ecomctl(["setup"], home).returncode == 0
    controller, terminal = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    process = subprocess.Popen([sys.executable, "-m", "ecomctl", "--home", str(home), "--json", "send", "-"],
                               stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment)
    os.close(terminal)
    try:
        os.write(controller, b'{"customer_id": "C1", "order_id": "TTY-1"}\n')
        os.write(controller, b"\x04")  # Ctrl-D at the start of a line: end of input
        out, err = process.communicate(timeout=120)
    finally:
        os.close(controller)
    assert process.returncode == 0, err
    assert b"reading events from standard input" in err and b"Ctrl-D" in err
    assert json.loads(out)["steps"][0]["details"]["events"] == 1  # the typed line was sent
    piped = subprocess.run([sys.executable, "-m", "ecomctl", "--home", str(home), "send", "-"],
                           input=b'{"customer_id": "C2"}\n', capture_output=True, timeout=120)
    assert piped.returncode == 0 and b"reading events from standard input" not in piped.stdout + piped.stderr


# -- the live line of a running step -----------------------------------------------------------

def live_console(width: int = 120):
    """A PipelineConsole drawing its live lines on a fake terminal; returns (console, screen)."""
    import io

    from rich.console import Console

    from ecomctl.cli.console import PipelineConsole

    screen = io.StringIO()
    console = PipelineConsole(interactive=True)
    console.console = Console(file=screen, force_terminal=True, width=width, color_system=None)
    return console, screen


def frames(console, screen) -> str:
    """What the live line shows now, escape sequences removed."""
    console._live.progress.refresh()
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())


def test_a_step_on_a_terminal_shows_its_phases_with_counts_separated_and_no_unknown_total():
    console, screen = live_console()
    console.step_started("ingest", "land new events and build bronze")
    console.progress("ingest", 0, None)
    shown = frames(console, screen)
    assert "ingest land new events and build bronze" in shown
    assert "?" not in shown  # no `0/?`: no count before the total is known
    console.progress("ingest", 120_000, 300_000)
    assert "ingest landing events" in frames(console, screen)
    assert "120,000/300,000" in frames(console, screen)
    console.phase("ingest", "bronze: received_events", 1, 4)
    shown = frames(console, screen)
    assert "ingest bronze: received_events" in shown and "1/4" in shown
    console.phase("ingest", "bronze: rejected_events", 4, 4)
    assert "ingest bronze: rejected_events" in frames(console, screen)
    console.waiting("starting SQL warehouse demo")  # a wait shows on the same line ...
    assert "ingest starting SQL warehouse demo" in frames(console, screen)
    console.waiting(None)  # ... and the phase comes back after it
    assert frames(console, screen).rstrip().splitlines()[-1].startswith(("⠋", "⠙", "⠹", "⠸", "⠼", "⠴",
                                                                         "⠦", "⠧", "⠇", "⠏"))
    assert "bronze: rejected_events" in frames(console, screen).rstrip().splitlines()[-1]
    from ecomctl.results import StepResult

    console.step_failed(StepResult("ingest"))
    assert console._live is None


def test_the_spinner_and_the_clock_keep_going_when_the_count_is_complete():
    """A complete count (300,000/300,000) while the bronze SQL still runs must not look hung:
    Rich's own spinner and elapsed time stop at a complete count, ours do not."""
    import time

    from rich.progress import Progress

    from ecomctl.cli.console import _Clock, _Spinner

    progress = Progress()
    task_id = progress.add_task("ingest", total=4, step="ingest", extra="")
    progress.update(task_id, completed=4)
    task = progress.tasks[task_id]
    assert task.finished
    assert str(_Spinner().render(task)).strip()  # a spinner frame, not the blank of a finished task
    assert str(_Clock(time.monotonic() - 65).render(task)) == "0:01:05"
    assert str(_Clock(time.monotonic() - 3725).render(task)) == "1:02:05"


def test_without_a_terminal_phases_are_lines_and_long_steps_log_their_progress(monkeypatch):
    import io

    from rich.console import Console

    from ecomctl.cli import console as console_module
    from ecomctl.cli.console import PipelineConsole

    log = io.StringIO()
    console = PipelineConsole(interactive=False)
    console.console = Console(file=log, width=80, color_system=None)
    console.step_started("ingest", "land new events and build bronze")
    console.progress("ingest", 1_000, 300_000)  # too soon after the start: no line
    console.phase("ingest", "bronze: received_events", 1, 4)
    console.phase("ingest", "reading checkpoints")
    monkeypatch.setattr(console_module, "PLAIN_PROGRESS_SECONDS", 0.0)
    console.progress("ingest", 120_000, 300_000)
    assert log.getvalue().splitlines() == [
        "ingest: started (land new events and build bronze)",
        "ingest: bronze: received_events 1/4",
        "ingest: reading checkpoints",
        "ingest: landing events 120,000/300,000",
    ]


def on_a_terminal(args: list[str], home, **env: str) -> tuple[int, str]:
    """ecomctl with a 120-column terminal as its stdout and stderr: (exit code, what was drawn,
    escape sequences removed)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 120, 0, 0))
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("ECOMCTL_") and k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    environment.update(env)
    process = subprocess.Popen([sys.executable, "-m", "ecomctl", "--home", str(home), *args],
                               stdin=terminal, stdout=terminal, stderr=terminal, env=environment)
    os.close(terminal)
    drawn = b""
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the terminal closed: the process is gone
                    break
                if not chunk:
                    break
                drawn += chunk
            elif process.poll() is not None:
                break
        process.wait(timeout=300)
    finally:
        os.close(controller)
    return process.returncode, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn.decode(errors="replace"))


@pytest.mark.slow
def test_ingest_on_a_terminal_shows_a_bar_of_events_with_separators(home):
    assert run_ecomctl(["run-all", "--count", "10"], home).returncode == 0
    assert run_ecomctl(["generate", "--count", "12000", "--seed", "3"], home).returncode == 0
    # Small batches: forty reads and loads, so the landing lasts long enough for the screen to
    # catch it moving (at 1,500 a batch the landing got fast enough to be drawn in one frame).
    code, drawn = on_a_terminal(["ingest"], home, ECOMCTL_INGEST_BATCH="300")
    assert code == 0, drawn[-3000:]
    counts = re.findall(r"ingest landing events [━╸╺ ]*([\d,]+)/([\d,?]+)", drawn)
    assert counts, drawn[-3000:]
    assert {total for _, total in counts} == {"12,000"}  # the total, with its separator, never `?`
    done = [int(d.replace(",", "")) for d, _ in counts]
    assert done == sorted(done) and len(set(done)) > 1  # it moved (each frame the screen caught)
    assert re.search(r"ingest landing events .* \d:\d\d:\d\d", drawn)  # and the clock


def test_without_a_terminal_the_steps_log_each_phase(cli):
    result = cli("run-all", "--count", "30", "--seed", "2")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    for phase in ("ingest: bronze: received_events 1/3", "ingest: bronze: rejected_events 3/3",
                  "transform: silver: order_details 1/1", "transform: gold: customer_insights 4/4",
                  "views: mv_top_brands 1/8", "views: mv_discount_analysis 8/8"):
        assert phase in lines, phase
    assert lines.index("ingest: bronze: received_events 1/3") < next(
        n for n, line in enumerate(lines) if line.startswith("ingest: finished in"))


def test_a_dashboard_published_to_databricks_is_summed_up_and_pointed_at_by_its_url():
    import io

    from rich.console import Console

    from ecomctl.cli.console import PipelineConsole, step_headline
    from ecomctl.results import StepResult

    step = StepResult("dashboards", details={
        "dashboard": {"name": "ecomctl", "url": "https://adb.example/dashboardsv3/01ef"},
        "queries": [{"name": f"q{n}"} for n in range(10)], "genie_spaces": [{"name": "sales"}]})
    assert step_headline(step) == "dashboard, 10 saved queries and 1 Genie space published"
    log = io.StringIO()
    console = PipelineConsole(interactive=False)
    console.console = Console(file=log, width=80, color_system=None)
    console.render_summary([step], None)
    assert log.getvalue().splitlines()[-1] == "dashboard: https://adb.example/dashboardsv3/01ef"
