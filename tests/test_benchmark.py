"""The benchmark script runs end to end at a tiny scale and writes its table (no timing is checked:
timings belong in docs/benchmark.md, not in the test suite)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmark.py"


@pytest.mark.slow
def test_benchmark_writes_every_measure_and_keeps_the_notes(tmp_path):
    out = tmp_path / "benchmark.md"
    out.write_text("# Benchmark\n\nintro\n\n<!-- benchmark:start -->\nstale table\n<!-- benchmark:end -->\n\n"
                   "## Notes\nkept\n")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--count", "300", "--small-count", "100",
                           "--help-runs", "1", "--repeat", "2", "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.startswith("# Benchmark\n\nintro\n") and text.endswith("## Notes\nkept\n")
    assert "stale table" not in text
    for measure in ("`ecomctl --help`", "`generate --count 300`", "`ingest` 300 events",
                    "bare DuckDB floor", "its ingest part alone", "vs the floor", "`run-all --count 300`",
                    "`run-all --count 300` peak RSS", "`run-all --count 300` by step", "landing + COPY INTO loop", "peak RSS, `run-all` 100 / 300 / 600 events",
                    "Databricks: SQL statements `run-all` sends",
                    "`run-all --count 300` on 300 events of history vs on an empty warehouse",
                    "`ingest` of 300 events onto 300 events of history"):
        assert measure in text, measure
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 15  # header + 14 measures
    assert all(line.rstrip().endswith(("| yes |", "| **no** |", "| — |")) for line in table[1:])
    assert proc.stdout in text
