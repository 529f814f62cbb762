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
