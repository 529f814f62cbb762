#!/usr/bin/env python3
"""Regenerate the command reference, docs/commands.md, so that its examples are real and current.

The file holds two kinds of generated block, each between markers at the start of a line;
everything between the markers is replaced, the prose around them is not.

    <!-- options: ecomctl run-all -->      the options table of a command (`ecomctl` alone: the
    | option | what |                      global options), built from the Typer app itself, so
    ...                                    an option cannot exist undocumented
    <!-- /options -->

    <!-- output: ecomctl status -->        what the command prints: the command is run
    ```text
    ...
    ```
    <!-- /output -->

An output marker may end with `| head N` or `| tail N` to keep the first or last N lines. The
commands run in file order, in one fresh folder (the default ./.ecomctl home inside it, the
repository's examples/ copied beside it), without a terminal and 80 columns wide, which is what
a log or a cron mail shows.

    python scripts/readme_output.py            # rewrite docs/commands.md (runs every example)
    python scripts/readme_output.py --check    # run nothing: check that every block is well
                                               # formed and every options table is current
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILE = REPO / "docs" / "commands.md"
BLOCK = re.compile(
    r"^<!-- output: (?P<spec>[^\n]*?) -->\n(?P<body>.*?)^<!-- /output -->$", re.S | re.M)
OPTIONS = re.compile(
    r"^<!-- options: (?P<spec>[^\n]*?) -->\n(?P<body>.*?)^<!-- /options -->$", re.S | re.M)
TRIM = re.compile(r"^(?P<command>.*?)(?:\s*\|\s*(?P<end>head|tail)\s+(?P<lines>\d+))?$")
WIDTH = "80"
# Settings from the machine running this script must not change the examples.
_SETTING_PREFIXES = ("ECOMCTL_", "DATABRICKS_", "EVENTHUB_", "KEYVAULT_", "AZURE_", "GITHUB_STEP_SUMMARY")
# Options every command has; documented once, not in each table.
_SKIPPED_OPTIONS = ("--help",)


@dataclass
class Example:
    spec: str        # as written in the marker, e.g. "ecomctl run-all --seed 7 | tail 30"
    argv: list[str]  # the ecomctl arguments, e.g. ["run-all", "--seed", "7"]
    end: str | None  # "head", "tail" or None
    lines: int
    start: int       # span of the whole block in the file's text
    stop: int


@dataclass
class OptionsTable:
    spec: str           # as written in the marker, e.g. "ecomctl ingest"
    command: str | None  # the command whose options these are; None for the global options
    body: str           # the table as the file holds it
    start: int
    stop: int


class DocError(Exception):
    pass


def find_examples(text: str) -> list[Example]:
    examples = []
    for match in BLOCK.finditer(text):
        spec = match["spec"].strip()
        trim = TRIM.match(spec)
        argv = shlex.split(trim["command"])
        if not argv or argv[0] != "ecomctl":
            raise DocError(f"output marker {spec!r}: the command must start with `ecomctl`")
        examples.append(Example(spec, argv[1:], trim["end"], int(trim["lines"] or 0),
                                match.start(), match.end()))
    _check_pairs(text, "output", len(examples))
    return examples


def find_options_tables(text: str) -> list[OptionsTable]:
    tables = []
    for match in OPTIONS.finditer(text):
        spec = match["spec"].strip()
        argv = spec.split()
        if not argv or argv[0] != "ecomctl" or len(argv) > 2:
            raise DocError(f"options marker {spec!r}: write `ecomctl` or `ecomctl <command>`")
        tables.append(OptionsTable(spec, argv[1] if len(argv) == 2 else None, match["body"],
                                   match.start(), match.end()))
    _check_pairs(text, "options", len(tables))
    return tables


def _check_pairs(text: str, kind: str, well_formed: int) -> None:
    # Markers count at the start of a line only: prose may quote one in backticks.
    opened = len(re.findall(rf"^<!-- {kind}:", text, re.M))
    closed = len(re.findall(rf"^<!-- /{kind} -->", text, re.M))
    if opened != well_formed or closed != well_formed:
        raise DocError(f"{opened} `<!-- {kind}: ... -->` markers but {well_formed} well-formed "
                       f"blocks: every marker needs its `<!-- /{kind} -->`")


# -- options tables: from the Typer app ------------------------------------------------------------

def cli_group():
    """The click group Typer builds for ecomctl (imported here: the script also runs without it)."""
    import typer.main

    from ecomctl.cli.main import app

    return typer.main.get_command(app)


def documented_params(command) -> list:
    """The parameters a reader needs documented: arguments and visible options, not --help; for
    a command, not the global options either (they are documented once, with the app's own)."""
    is_group = hasattr(command, "commands")
    return [p for p in command.params
            if not getattr(p, "hidden", False)
            and not (p.param_type_name == "option" and p.opts[0] in _SKIPPED_OPTIONS)
            and (is_group or not _is_global(p))]


def _is_global(param) -> bool:
    from ecomctl.cli.options import GLOBAL_PANEL

    return getattr(param, "rich_help_panel", None) == GLOBAL_PANEL


def options_table(command) -> str:
    """A markdown table of a command's arguments and options, from their own help texts."""
    rows = ["| option | what |", "|---|---|"]
    for param in documented_params(command):
        if param.param_type_name == "argument":
            name = f"`{param.metavar or param.name.upper()}` (argument)"
        else:
            name = ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])
        what = (param.help or "").replace("\\[", "[").replace("|", "\\|")
        value = getattr(param.default, "value", param.default)  # an Enum choice shows its value
        if getattr(param, "show_default", None) is True and value not in (None, False, ""):
            what += f" Default: `{value}`."
        rows.append(f"| {name} | {what} |")
    return "\n".join(rows) + "\n"


def expected_options(table: OptionsTable, group=None) -> str:
    group = group or cli_group()
    if table.command is None:
        return options_table(group)
    if table.command not in group.commands:
        raise DocError(f"options marker {table.spec!r}: ecomctl has no command {table.command!r}")
    return options_table(group.commands[table.command])


def stale_options_tables(text: str) -> list[str]:
    """The specs of the options tables that differ from what the Typer app gives."""
    group = cli_group()
    return [t.spec for t in find_options_tables(text) if t.body != expected_options(t, group)]


def render_options(text: str) -> str:
    group = cli_group()
    for table in reversed(find_options_tables(text)):
        block = f"<!-- options: {table.spec} -->\n{expected_options(table, group)}<!-- /options -->"
        text = text[: table.start] + block + text[table.stop:]
    return text


# -- output blocks: run the commands -----------------------------------------------------------------

def capture(example: Example, folder: Path) -> str:
    """Run one example in `folder` and return what a terminal-less 80-column reader sees.

    The repository's examples/ folder is copied there first, so examples can send its files.
    """
    if (REPO / "examples").is_dir() and not (folder / "examples").exists():
        shutil.copytree(REPO / "examples", folder / "examples")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_SETTING_PREFIXES) and k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(COLUMNS=WIDTH, PYTHONIOENCODING="utf-8")
    result = subprocess.run([sys.executable, "-m", "ecomctl", *example.argv], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    if result.returncode != 0:
        raise DocError(f"`{example.spec}` exited {result.returncode}:\n{result.stdout}")
    lines = [line.rstrip() for line in result.stdout.replace(str(folder), ".").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if example.end == "head" and len(lines) > example.lines:
        lines = lines[: example.lines] + ["..."]
    elif example.end == "tail" and len(lines) > example.lines:
        lines = ["..."] + lines[-example.lines:]
    return "\n".join(lines)


def render(example: Example, output: str) -> str:
    return f"<!-- output: {example.spec} -->\n```text\n{output}\n```\n<!-- /output -->"


def refresh(path: Path) -> list[str]:
    """Rewrite every options table and output block of `path` in place; returns the commands run."""
    text = render_options(path.read_text(encoding="utf-8"))
    examples = find_examples(text)
    if not examples:
        raise DocError(f"{path} has no `<!-- output: ... -->` blocks")
    with tempfile.TemporaryDirectory(prefix="ecomctl-docs-") as folder:
        outputs = [capture(example, Path(folder).resolve()) for example in examples]
    for example, output in reversed(list(zip(examples, outputs))):
        text = text[: example.start] + render(example, output) + text[example.stop:]
    path.write_text(text, encoding="utf-8")
    return [example.spec for example in examples]


def check(path: Path) -> str:
    """Check the blocks without running a command; a DocError says what is wrong."""
    text = path.read_text(encoding="utf-8")
    examples = find_examples(text)
    stale = stale_options_tables(text)
    if stale:
        raise DocError(f"options tables out of date in {path}: {', '.join(stale)} "
                       "(run python scripts/readme_output.py)")
    return f"{len(examples)} output blocks and {len(find_options_tables(text))} current options tables in {path}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--check", action="store_true", help="run nothing; only check the blocks")
    args = parser.parse_args(argv)
    try:
        if args.check:
            print(check(args.file))
        else:
            for spec in refresh(args.file):
                print(f"captured: {spec}")
    except DocError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
