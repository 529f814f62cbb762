#!/usr/bin/env python3
"""Write `.env.example` and docs/configuration.md from the settings table (ecomctl/config.py).

Both files are generated so that no setting can exist undocumented; run this after adding or
changing a setting. The tests fail while either file differs from what this would write.

    python scripts/settings_docs.py            # rewrite both files
    python scripts/settings_docs.py --check    # only say whether they are current (exit 1 if not)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecomctl.config import env_example
from ecomctl.configuration_docs import configuration_markdown

REPO = Path(__file__).resolve().parents[1]
GENERATED = {
    ".env.example": env_example,
    "docs/configuration.md": configuration_markdown,
}


def stale(repo: Path = REPO) -> list[str]:
    """The generated files whose text differs from what the settings table gives."""
    out = []
    for name, render in GENERATED.items():
        path = repo / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render():
            out.append(name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        for name in out_of_date:
            print(f"{name} is out of date: run python scripts/settings_docs.py", file=sys.stderr)
        return 1 if out_of_date else 0
    for name, render in GENERATED.items():
        (REPO / name).write_text(render(), encoding="utf-8")
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
