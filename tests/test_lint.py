"""The tree stays clean under the project's ruff configuration ([tool.ruff] in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_tree_is_clean_under_ruff():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "ecomctl", "tests", "scripts"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
