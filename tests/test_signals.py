"""Ctrl-C and SIGTERM through the real CLI: a large generate (drawn in a child process) is stopped
by a signal; it exits 130 or 143 with one line saying how many events went out, the run report
(stdout, runs/ and the GitHub step summary) says the same, the event log agrees, and no process
ecomctl started outlives it. SIGKILL leaves ecomctl no say: its child still goes.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import time

import pytest

from processes import alive, child_pids, clean_env, command, events_in_log, wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")]

COUNT = 3_000_000  # far more than a loaded machine sends in the time the test waits


def start_generate(home, tmp_path):
    import subprocess

    env = clean_env(GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"))
    return subprocess.Popen(command(home, "--json", "generate", "--count", str(COUNT), "--seed", "5"),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def sending(proc, home) -> set[int]:
    """Wait until the generator's child process runs and events reach the log; its pids."""
    children: set[int] = set()

    def started() -> bool:
        children.update(child_pids(proc.pid))
        return bool(children) and (home / "eventhub.db").exists() and events_in_log(home) > 0

    assert wait_for(started, timeout=120, interval=0.2), proc.stderr.read1().decode(errors="replace")
    return children


@pytest.mark.parametrize("sig, code, words", [
    (signal.SIGINT, 130, "interrupted (Ctrl-C, SIGINT)"),
    (signal.SIGTERM, 143, "terminated (SIGTERM)"),
])
def test_a_signal_during_generate_stops_it_cleanly(home, tmp_path, sig, code, words):
    proc = start_generate(home, tmp_path)
    try:
        children = sending(proc, home)
        time.sleep(0.5)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stderr.decode(errors="replace")[-2000:]

    # Nothing ecomctl started is left: the drawing process, and anything it started.
    assert [pid for pid in children if alive(pid)] == []

    sent = events_in_log(home)
    assert 0 < sent < COUNT
    errors = [line for line in stderr.decode().splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in stderr.decode()
    assert errors[0].startswith(f"Error: {words} during generate, after {sent:,} of {COUNT:,} events "
                                "were sent; what finished is kept")
    assert "--debug" not in errors[0]

    report = json.loads(stdout)
    assert report["ok"] is False and report["error"] == errors[0].removeprefix("Error: ")
    (step,) = report["steps"]
    assert step["step"] == "generate" and step["details"]["failed"] is True
    assert step["details"]["events"] == sent and step["details"]["requested"] == COUNT
    (written,) = (home / "runs").glob("*_generate.json")
    assert json.loads(written.read_text())["error"] == report["error"]
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("### ecomctl generate on local failed\n")
    assert f"> {report['error']}" in summary and "| generate | failed |" in summary


def test_a_killed_ecomctl_leaves_no_child_behind(home, tmp_path):
    proc = start_generate(home, tmp_path)
    try:
        children = sending(proc, home)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # No clean-up ran in ecomctl: the child notices that nothing reads its events any more.
    assert wait_for(lambda: not any(alive(pid) for pid in children), timeout=30), \
        [pid for pid in children if alive(pid)]


def test_an_error_during_generate_leaves_no_child_behind(home, tmp_path):
    """A failure (here: the event log's file made unwritable mid-run by a size limit) ends the
    command with exit 1, and the drawing process goes with it."""
    import resource
    import subprocess

    env = clean_env()

    def limit_file_size() -> None:  # the event log hits the limit after some batches
        resource.setrlimit(resource.RLIMIT_FSIZE, (50 * 1024 * 1024, resource.RLIM_INFINITY))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails instead of killing

    proc = subprocess.Popen(command(home, "generate", "--count", str(COUNT)), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit_file_size)
    seen: set[int] = set()
    while proc.poll() is None:
        seen |= child_pids(proc.pid)
        time.sleep(0.1)
    _, stderr = proc.communicate()
    assert proc.returncode == 1, stderr.decode(errors="replace")[-2000:]
    assert re.search(r"^Error: writing a batch .* to the event log", stderr.decode(), re.M), \
        stderr.decode()[-2000:]
    assert seen and [pid for pid in seen if alive(pid)] == []
