#!/usr/bin/env python3
"""Re-capture the command output shown in README.md, so the examples are real and current.

Each example sits between markers, each at the start of its line; everything between them
is replaced:

    <!-- output: ecomctl status -->
    ```text
    ...
    ```
    <!-- /output -->

The marker may end with `| head N` or `| tail N` to keep the first or last N lines. The
commands run in README order, in one fresh folder (the default ./.ecomctl home inside it),
without a terminal and 80 columns wide, which is what a log or a cron mail shows.

    python scripts/readme_output.py            # rewrite README.md
    python scripts/readme_output.py --check    # only check that every block is well formed
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
BLOCK = re.compile(
    r"^<!-- output: (?P<spec>[^\n]*?) -->\n(?P<body>.*?)^<!-- /output -->$", re.S | re.M)
TRIM = re.compile(r"^(?P<command>.*?)(?:\s*\|\s*(?P<end>head|tail)\s+(?P<lines>\d+))?$")
WIDTH = "80"
# Settings from the machine running this script must not change the examples.
_SETTING_PREFIXES = ("ECOMCTL_", "DATABRICKS_", "EVENTHUB_", "KEYVAULT_", "AZURE_", "GITHUB_STEP_SUMMARY")


@dataclass
class Example:
    spec: str        # as written in the marker, e.g. "ecomctl run-all --seed 7 | tail 30"
    argv: list[str]  # the ecomctl arguments, e.g. ["run-all", "--seed", "7"]
    end: str | None  # "head", "tail" or None
    lines: int
    start: int       # span of the whole block in the README text
    stop: int


class ReadmeError(Exception):
    pass


def find_examples(text: str) -> list[Example]:
    examples = []
    for match in BLOCK.finditer(text):
        spec = match["spec"].strip()
        trim = TRIM.match(spec)
        argv = shlex.split(trim["command"])
        if not argv or argv[0] != "ecomctl":
            raise ReadmeError(f"README output marker {spec!r}: the command must start with `ecomctl`")
        examples.append(Example(spec, argv[1:], trim["end"], int(trim["lines"] or 0),
                                match.start(), match.end()))
    # Markers count at the start of a line only: prose may quote one in backticks.
    opened = len(re.findall(r"^<!-- output:", text, re.M))
    if opened != len(examples) or len(re.findall(r"^<!-- /output -->", text, re.M)) != len(examples):
        raise ReadmeError(f"README has {opened} `<!-- output: ... -->` markers but "
                          f"{len(examples)} well-formed blocks: every marker needs its `<!-- /output -->`")
    return examples


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
        raise ReadmeError(f"`{example.spec}` exited {result.returncode}:\n{result.stdout}")
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


def refresh(readme: Path) -> list[str]:
    """Rewrite every output block of `readme` in place; returns the commands run."""
    text = readme.read_text(encoding="utf-8")
    examples = find_examples(text)
    if not examples:
        raise ReadmeError(f"{readme} has no `<!-- output: ... -->` blocks")
    with tempfile.TemporaryDirectory(prefix="ecomctl-readme-") as folder:
        outputs = [capture(example, Path(folder).resolve()) for example in examples]
    for example, output in reversed(list(zip(examples, outputs))):
        text = text[: example.start] + render(example, output) + text[example.stop:]
    readme.write_text(text, encoding="utf-8")
    return [example.spec for example in examples]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("readme", nargs="?", type=Path, default=REPO / "README.md")
    parser.add_argument("--check", action="store_true", help="only check the blocks; run nothing")
    args = parser.parse_args(argv)
    try:
        if args.check:
            examples = find_examples(args.readme.read_text(encoding="utf-8"))
            print(f"{len(examples)} output blocks in {args.readme}")
        else:
            for spec in refresh(args.readme):
                print(f"captured: {spec}")
    except ReadmeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
