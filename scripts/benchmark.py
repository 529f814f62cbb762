#!/usr/bin/env python3
"""Measure ecomctl against its performance budgets and write the markdown table of docs/benchmark.md.

Every measurement is a fresh process with a fresh --home (under a temporary folder), timed here
with a monotonic clock; peak memory is the process's maximum resident set size, from
`/usr/bin/time -v` when it is installed, otherwise from getrusage() of a one-child wrapper.
The bare-DuckDB floor runs the same setup, bronze, silver and gold SQL (transpiled once, by
ecomctl's own dialect layer, before the clock starts) on the same landing files, in a process
that imports nothing but duckdb.

    python scripts/benchmark.py                     # 1,000,000 events (and 100,000 / 2,000,000 for memory)
    python scripts/benchmark.py --count 20000 --small-count 2000 --out /tmp/bench.md

Run it with the Python of the environment ecomctl is installed in. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START_MARK = "<!-- benchmark:start -->"
END_MARK = "<!-- benchmark:end -->"
MiB = 1024 * 1024

# getrusage() covers all waited-for children, so each measured command runs under its own
# wrapper process: the wrapper's children are exactly that command.
_RUSAGE_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""

# The bare-DuckDB floor: nothing but duckdb, the statements ecomctl would run, the same landing files.
_FLOOR_RUNNER = """
import json, sys, time
import duckdb
plan = json.load(open(sys.argv[1]))
con = duckdb.connect(":memory:")
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")  # it prints to stdout, where the counts go
con.execute("SET memory_limit = '%s'" % plan["memory_limit"])
con.execute("SET preserve_insertion_order = false")
con.execute("SET temp_directory = '%s'" % (plan["database"] + ".tmp"))
con.execute("ATTACH '%s' AS %s" % (plan["database"], plan["catalog"]))
con.execute("USE %s" % plan["catalog"])
for sql in plan["setup"]:
    con.execute(sql)
raw = plan["raw_events"]
columns = ", ".join("'%s': '%s'" % (name, "TIMESTAMPTZ" if ctype.upper() == "TIMESTAMP" else ctype)
                    for name, ctype, *_ in con.execute("DESCRIBE " + raw).fetchall())
started = time.perf_counter()
con.execute("INSERT INTO %s BY NAME SELECT * FROM read_json(?, columns = {%s}, "
            "format = 'newline_delimited')" % (raw, columns), [plan["landing_glob"]])
seconds = {"load": time.perf_counter() - started, "bronze": 0.0, "silver_gold": 0.0}
counts = {}
for name, sql in plan["steps"]:
    started = time.perf_counter()
    con.execute(sql)
    seconds["bronze" if name.split(".")[1] == plan["bronze"] else "silver_gold"] += \
        time.perf_counter() - started
    counts[name] = con.execute("SELECT COUNT(*) FROM " + name).fetchone()[0]
counts[raw] = con.execute("SELECT COUNT(*) FROM " + raw).fetchone()[0]
con.close()
print(json.dumps({"counts": counts, "seconds": seconds}))
"""


@dataclass
class Run:
    seconds: float
    peak_rss_bytes: int
    stdout: str


@dataclass
class Row:
    measure: str
    budget: str
    result: str
    met: bool | None  # None: shown for information, no budget of its own


class Runner:
    """Runs one command in a fresh process and measures its wall time and peak RSS."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        time_bin = shutil.which("time", path="/usr/bin:/bin")
        self.gnu_time = time_bin if time_bin and _gnu_time_works(time_bin) else None
        self.memory_tool = "/usr/bin/time -v" if self.gnu_time else "getrusage(RUSAGE_CHILDREN)"
        self._n = 0

    def run(self, command: list[str]) -> Run:
        self._n += 1
        report = self.workdir / f"rusage-{self._n}.txt"
        if self.gnu_time:
            wrapped = [self.gnu_time, "-v", "-o", str(report)] + command
        else:
            wrapped = [sys.executable, "-c", _RUSAGE_WRAPPER, str(report)] + command
        started = time.perf_counter()
        proc = subprocess.run(wrapped, env=self.env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise SystemExit(f"benchmark: `{' '.join(command)}` failed (exit {proc.returncode}):\n{tail}")
        text = report.read_text()
        if self.gnu_time:
            found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
            kib = int(found.group(1)) if found else 0
        else:
            kib = int(text.strip() or 0)
        return Run(seconds, kib * 1024, proc.stdout)


def _gnu_time_works(time_bin: str) -> bool:
    try:
        probe = subprocess.run([time_bin, "-v", "true"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0 and "Maximum resident set size" in probe.stderr


def ecomctl_command(python: str) -> list[str]:
    script = Path(python).parent / "ecomctl"
    return [str(script)] if script.is_file() else [python, "-m", "ecomctl"]


def floor_plan(home: Path, database: Path, memory_limit: str) -> dict:
    """The DuckDB statements of setup, bronze (minus the 00_ COPY INTO), silver and gold, translated
    by ecomctl's dialect layer once, here, before any clock runs."""
    from ecomctl.warehouse import dialect
    from ecomctl.warehouse.base import Names
    from ecomctl.warehouse.sqlfiles import load_step, render, split_statements

    names = Names()
    setup, steps = [], []
    for step in ("setup", "bronze", "silver", "gold"):
        for sql_file in load_step(step):
            if sql_file.name.startswith("bronze/00_"):
                continue  # the load: the floor reads the landing files with read_json instead
            text = render(sql_file.text, names.as_mapping(), sql_file.name)
            for statement in split_statements(text, sql_file.name):
                planned = dialect.plan(statement.text)
                if planned.kind != "sql":
                    continue  # COMMENT ON, CREATE VOLUME ...: nothing for a bare DuckDB to do
                if step == "setup":
                    setup.append(planned.sql)
                else:
                    steps.append([".".join(planned.target), planned.sql])
    return {"database": str(database), "catalog": names.catalog, "memory_limit": memory_limit,
            "setup": setup, "steps": steps,
            "raw_events": f"{names.catalog}.{names.bronze}.raw_events", "bronze": names.bronze,
            "landing_glob": str(home / "landing" / "*.json")}


def _default_memory_limit() -> str:
    from ecomctl.config import SETTINGS

    return next(str(s.default) for s in SETTINGS if s.attr == "duckdb_memory_limit")


def phases(report_json: str) -> str:
    """Seconds per step of a JSON report, and for ingest its load loop and its bronze SQL."""
    parts = []
    for step in json.loads(report_json)["steps"]:
        loop = [o for o in step["objects"] if o.get("action") == "copy into"]
        if step["step"] == "ingest" and loop:
            bronze = [o for o in step["objects"] if o.get("action") != "copy into"]
            parts.append(f"ingest {step['seconds']:.1f} (landing + COPY INTO loop "
                         f"{sum(o['seconds'] for o in loop):.1f}, "
                         f"bronze SQL {sum(o['seconds'] for o in bronze):.1f})")
        else:
            parts.append(f"{step['step']} {step['seconds']:.1f}")
    return ", ".join(parts) + " s"


def step_rows(report_json: str) -> dict[str, int]:
    report = json.loads(report_json)
    return {obj["object"]: obj["rows"] for step in report["steps"] for obj in step["objects"]
            if obj.get("rows") is not None}


def benchmark(args: argparse.Namespace) -> tuple[list[Row], list[str]]:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="ecomctl-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOMCTL_")}
    env["NO_COLOR"] = "1"
    # ecomctl as a user runs it: with Python's bytecode cache. pip compiles an installed package
    # at install time; an editable install under PYTHONDONTWRITEBYTECODE would recompile every
    # ecomctl module on every run (~0.2 s a command), which no installed ecomctl pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    runner = Runner(workdir, env)
    ecomctl = ecomctl_command(args.python)
    n, small = args.count, args.small_count
    rows: list[Row] = []
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if not args.quiet else (lambda m: None)

    say("ecomctl --help ...")
    help_times = [runner.run(ecomctl + ["--help"]).seconds for _ in range(args.help_runs)]
    help_s = statistics.median(help_times)
    rows.append(Row("`ecomctl --help` (median of %d)" % len(help_times), "≤ 0.25 s",
                    f"{help_s:.3f} s", help_s <= 0.25))

    steps_home = workdir / "steps"
    base = ecomctl + ["--home", str(steps_home)]
    runner.run(base + ["setup"])
    say(f"generate {n:,} ...")
    gen = runner.run(base + ["--json", "generate", "--count", str(n), "--seed", "7"])
    gen_rate = n / gen.seconds
    rows.append(Row(f"`generate --count {n:,}` into the embedded log", "≥ 100,000 events/s",
                    f"{gen_rate:,.0f} events/s ({gen.seconds:.1f} s, {gen.peak_rss_bytes / MiB:,.0f} MiB)",
                    gen_rate >= 100_000))
    # ingest + transform and the floor run --repeat times, alternating, each ingest on a copy of
    # the generated home; the fastest of each is kept (noise only ever adds time).
    pristine = workdir / "generated"
    shutil.copytree(steps_home, pristine)
    plan_path = workdir / "floor-plan.json"
    plan = floor_plan(steps_home, workdir / "floor.duckdb", args.memory_limit or _default_memory_limit())
    plan_path.write_text(json.dumps(plan))
    ingests, transforms, floors, floor_phases = [], [], [], []
    for attempt in range(args.repeat):
        if attempt:
            shutil.rmtree(steps_home)
            shutil.copytree(pristine, steps_home)
            (workdir / "floor.duckdb").unlink(missing_ok=True)
        say(f"ingest {n:,} ...")
        ingests.append(runner.run(base + ["--json", "ingest"]))
        say("transform ...")
        transforms.append(runner.run(base + ["--json", "transform"]))
        say("bare DuckDB floor ...")
        floors.append(runner.run([args.python, "-c", _FLOOR_RUNNER, str(plan_path)]))
        floor_report = json.loads(floors[-1].stdout)
        floor_counts = floor_report["counts"]
        floor_phases.append(floor_report["seconds"])
        ours = {**step_rows(ingests[-1].stdout), **step_rows(transforms[-1].stdout)}
        mismatched = [t for t, c in floor_counts.items() if t in ours and ours[t] != c]
        if mismatched or floor_counts.get(plan["raw_events"]) != n:
            raise SystemExit(f"benchmark: the floor built different tables than ecomctl: {mismatched}")
    ing = min(ingests, key=lambda r: r.seconds)
    tra = min(transforms, key=lambda r: r.seconds)
    floor = min(floors, key=lambda r: r.seconds)
    # The floor's own ingest part (landing files -> raw_events -> bronze), fastest of the runs:
    # what the same SQL costs in DuckDB alone, the lower bound ecomctl's ingest is measured against.
    floor_load = min(f["load"] for f in floor_phases)
    floor_bronze = min(f["bronze"] for f in floor_phases)
    of = f", fastest of {args.repeat}" if args.repeat > 1 else ""
    ing_rate = n / ing.seconds
    rows.append(Row(f"`ingest` {n:,} events (log → landing → bronze)", "≥ 200,000 events/s",
                    f"{ing_rate:,.0f} events/s ({ing.seconds:.1f} s{of}, {ing.peak_rss_bytes / MiB:,.0f} MiB)",
                    ing_rate >= 200_000))
    rows.append(Row("`transform` (silver + gold)", "—",
                    f"{tra.seconds:.1f} s{of} ({tra.peak_rss_bytes / MiB:,.0f} MiB)", None))
    ecomctl_s = ing.seconds + tra.seconds
    ratio = ecomctl_s / floor.seconds
    rows.append(Row("bare DuckDB floor: same SQL on the same landing files", "—",
                    f"{floor.seconds:.1f} s{of} ({floor.peak_rss_bytes / MiB:,.0f} MiB)", None))
    floor_ingest = floor_load + floor_bronze
    rows.append(Row("bare DuckDB floor, its ingest part alone (landing files → raw_events → bronze SQL)",
                    "—", f"{n / floor_ingest:,.0f} events/s ({floor_ingest:.1f} s: load "
                    f"{floor_load:.1f} s, bronze SQL {floor_bronze:.1f} s; no event log read, "
                    f"no landing file written)", None))
    rows.append(Row("ecomctl `ingest` + `transform` vs the floor", "≤ 2.0×",
                    f"{ratio:.2f}× ({ecomctl_s:.1f} s vs {floor.seconds:.1f} s)", ratio <= 2.0))

    # Memory at three sizes. From --small-count up, peak RSS rises while DuckDB's buffer pool
    # fills towards its memory_limit (at half of --count it may not be full yet, which made a
    # half -> full comparison measure the pool filling, not growth); from --count to twice
    # --count, both with a full pool, it must stay flat.
    double = 2 * n
    runs = {}
    for count in sorted({small, n, double}):
        say(f"run-all --count {count:,} ...")
        home = workdir / f"run-all-{count}"
        runs[count] = runner.run(ecomctl + ["--home", str(home), "--json", "run-all",
                                            "--count", str(count), "--seed", "7"])
        if not json.loads(runs[count].stdout)["reconciliation"]["balanced"]:
            raise SystemExit(f"benchmark: run-all --count {count} did not reconcile")
        if count != n:  # a 2x home is a few GB: keep only what the table needs
            shutil.rmtree(home, ignore_errors=True)
    big, biggest, little = runs[n], runs[double], runs[small]
    rows.append(Row(f"`run-all --count {n:,}`", "≤ 30 s", f"{big.seconds:.1f} s", big.seconds <= 30))
    rows.append(Row(f"`run-all --count {n:,}` by step (its own report)", "—", phases(big.stdout), None))
    rows.append(Row(f"`run-all --count {n:,}` peak RSS", "≤ 1 GiB",
                    f"{big.peak_rss_bytes / MiB:,.0f} MiB", big.peak_rss_bytes <= 1024 * MiB))
    growth = biggest.peak_rss_bytes / max(big.peak_rss_bytes, 1)
    rows.append(Row(f"peak RSS, `run-all` {small:,} / {n:,} / {double:,} events",
                    f"does not grow with events ({n:,} → {double:,}: ≤ 1.15×)",
                    f"{little.peak_rss_bytes / MiB:,.0f} / {big.peak_rss_bytes / MiB:,.0f} / "
                    f"{biggest.peak_rss_bytes / MiB:,.0f} MiB ({growth:.2f}× for 2× the events; "
                    f"`run-all --count {double:,}` took {biggest.seconds:.1f} s)",
                    growth <= 1.15))

    # Incremental: a small run on the warehouse run-all --count n left, against the same run on an
    # empty one, side by side (alternating, median of 3 each); then ingest alone onto that history.
    history_home = workdir / f"run-all-{n}"
    small_runs, empty_runs, ingest_runs = [], [], []
    for attempt in range(3):
        say(f"run-all --count 300 on an empty warehouse and on {n:,} events ({attempt + 1}/3) ...")
        empty_home = workdir / f"empty-{attempt}"
        empty_runs.append(runner.run(ecomctl + ["--home", str(empty_home), "run-all", "--count", "300"]))
        shutil.rmtree(empty_home, ignore_errors=True)
        small_runs.append(runner.run(ecomctl + ["--home", str(history_home), "run-all", "--count", "300"]))
    for _ in range(3):
        runner.run(ecomctl + ["--home", str(history_home), "generate", "--count", "300"])
        ingest_runs.append(runner.run(ecomctl + ["--home", str(history_home), "ingest"]))
    on_history = statistics.median(r.seconds for r in small_runs)
    on_empty = statistics.median(r.seconds for r in empty_runs)
    incremental_ratio = on_history / on_empty
    rows.append(Row(f"`run-all --count 300` on {n:,} events of history vs on an empty warehouse "
                    "(median of 3 each)", "≤ 1.5×",
                    f"{incremental_ratio:.2f}× ({on_history:.2f} s vs {on_empty:.2f} s)",
                    incremental_ratio <= 1.5))
    ingest_small = statistics.median(r.seconds for r in ingest_runs)
    rows.append(Row(f"`ingest` of 300 events onto {n:,} events of history (median of 3)", "≤ 1 s",
                    f"{ingest_small:.2f} s", ingest_small <= 1.0))

    # Databricks: what run-all would send, from the dry-run plan (no credentials, no network).
    statements = {}
    for count in (300, n):
        say(f"run-all --dry-run on databricks, --count {count:,} ...")
        plan = runner.run(ecomctl + ["--home", str(workdir / f"dry-run-{count}"), "--target",
                                     "databricks", "--json", "run-all", "--dry-run",
                                     "--count", str(count)])
        entries = json.loads(plan.stdout)["plan"]
        statements[count] = sum(1 for e in entries if e["kind"] == "sql")
    rows.append(Row("Databricks: SQL statements `run-all` sends (dry-run plan)",
                    "does not grow with events",
                    f"{statements[300]} at 300 events, {statements[n]} at {n:,} (ingest repeats its "
                    f"COPY INTO and checkpoint query once per landing file, i.e. per "
                    f"ECOMCTL_INGEST_BATCH events of a partition; the plan shows one round)",
                    statements[300] == statements[n]))

    context = [
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average at start {args.load_at_start}, "
        f"Python {platform.python_version()}, duckdb {_version(args.python, 'duckdb')}, "
        f"sqlglot {_version(args.python, 'sqlglot')}; peak memory from {runner.memory_tool}.",
        f"Command: `python scripts/benchmark.py --count {n} --small-count {small} --repeat {args.repeat}`.",
    ]
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        context.append(f"Work folder kept: {workdir}")
    return rows, context


def _version(python: str, module: str) -> str:
    probe = subprocess.run([python, "-c", f"import {module}; print({module}.__version__)"],
                           capture_output=True, text=True)
    return probe.stdout.strip() or "?"


def markdown(rows: list[Row], context: list[str]) -> str:
    lines = ["| measure | budget | result | met? |", "|---|---|---|---|"]
    for row in rows:
        met = "—" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(f"| {row.measure} | {row.budget} | {row.result} | {met} |")
    return "\n".join(lines + [""] + context) + "\n"


def write_report(path: Path, table: str) -> None:
    """Replace the table between the markers, keeping the hand-written analysis around it."""
    block = f"{START_MARK}\n{table}{END_MARK}"
    if path.is_file():
        text = path.read_text()
        if START_MARK in text and END_MARK in text:
            head, rest = text.split(START_MARK, 1)
            _, tail = rest.split(END_MARK, 1)
            path.write_text(head + block + tail)
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# Benchmark\n\n{block}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="events for the main runs")
    parser.add_argument("--small-count", type=int, default=100_000,
                        help="events for the run-all whose peak memory is compared with --count's")
    parser.add_argument("--help-runs", type=int, default=5, help="runs of `ecomctl --help`")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of ingest + transform and of the floor, alternating; the fastest counts")
    parser.add_argument("--python", default=sys.executable, help="Python with ecomctl installed")
    parser.add_argument("--memory-limit", help="DuckDB memory_limit of the floor "
                        "(default: ecomctl's default ECOMCTL_DUCKDB_MEMORY_LIMIT)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmark.md")
    parser.add_argument("--workdir", help="folder for the homes (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the homes afterwards")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.count < 1 or args.small_count < 1 or args.repeat < 1:
        parser.error("--count, --small-count and --repeat must be 1 or more")
    args.load_at_start = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    rows, context = benchmark(args)
    table = markdown(rows, context)
    write_report(args.out, table)
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
