"""README.md as a user reads it: the two commands on top, a section with real output per command,
and the script that keeps that output current (scripts/readme_output.py)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path

import pytest
import typer.main

from ecomctl.cli.main import app

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _load_script():
    spec = importlib.util.spec_from_file_location("readme_output", REPO / "scripts" / "readme_output.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


readme_output = _load_script()
GROUP = typer.main.get_command(app)  # the click group Typer builds (typer vendors its own click)
COMMANDS = sorted(GROUP.commands)


def section(command: str) -> str:
    """The README text under `### `ecomctl <command>``, up to the next heading of that level or above."""
    found = re.search(rf"^### `ecomctl {re.escape(command)}`\n(.*?)(?=^##)", README, re.S | re.M)
    assert found, f"README has no section `### \\`ecomctl {command}\\``"
    return found.group(1)


def test_the_two_commands_come_first():
    lines = README.splitlines()
    assert lines[0] == "# ecomctl"
    fence = next(n for n, line in enumerate(lines) if line.startswith("```"))
    assert lines[fence] == "```bash" and not any(line.startswith("#") for line in lines[1:fence])
    block = lines[fence + 1: lines.index("```", fence + 1)]
    commands = [line for line in block if line and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("pip install . && ecomctl run-all")
    ci = (REPO / ".ci" / "run").read_text().split("# -- the README's test command --\n", 1)[1].strip()
    assert commands[1].endswith(ci)


def test_the_sections_a_user_looks_for_are_there():
    headings = re.findall(r"^## (.+)$", README, re.M)
    for wanted in ("Quickstart", "Targets", "Commands", "Configuration", "In CI and cron"):
        assert any(h.startswith(wanted) for h in headings), wanted
    assert "docs/report.md" in README and ".github/workflows/pipeline.yml" in README


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_a_section_and_real_output(command):
    click_command = GROUP.commands[command]
    assert (click_command.help or "").strip(), f"`ecomctl {command}` has no help text"
    for param in click_command.params:
        if param.param_type_name == "option" and not param.hidden:
            assert (param.help or "").strip(), f"`ecomctl {command} {param.opts[0]}` has no help text"
    text = section(command)
    blocks = readme_output.find_examples(text)
    assert any(example.argv[:1] == [command] for example in blocks), \
        f"the `ecomctl {command}` section has no `<!-- output: ecomctl {command} ... -->` block"


def test_global_options_have_help_and_are_documented():
    for param in GROUP.params:
        if param.param_type_name == "option" and not param.hidden:
            assert (param.help or "").strip(), param.opts[0]
            if param.opts[0] not in ("--help", "--install-completion", "--show-completion"):
                assert f"`{param.opts[0]}`" in README, f"README does not mention {param.opts[0]}"
    assert "--install-completion" in README and "--show-completion" in README


def test_output_blocks_hold_output_that_fits_80_columns():
    examples = readme_output.find_examples(README)
    assert len(examples) >= len(COMMANDS)
    for example in examples:
        block = README[example.start:example.stop]
        body = block.split("```text\n", 1)[1].rsplit("\n```\n", 1)[0]
        lines = body.splitlines()
        assert lines, example.spec
        assert max(len(line) for line in lines) <= 80, example.spec
        if example.end is None:
            assert re.search(rf"^{re.escape(example.argv[0])}: finished in", body, re.M), example.spec
        else:
            assert len(lines) == example.lines + 1 and lines[0 if example.end == "tail" else -1] == "..."


def test_the_cron_example_is_a_command_ecomctl_accepts(cli):
    (line,) = re.findall(r"```cron\n(.*?)\n```", README, re.S)
    fields = line.split(None, 5)
    assert len(fields) == 6 and all(re.fullmatch(r"[\d*/,-]+", f) for f in fields[:5])
    command = fields[5].split("bin/ecomctl ", 1)[1].split(">", 1)[0]
    assert cli(*shlex.split(command), "--help", use_home=False).exit_code == 0


@pytest.mark.slow
def test_the_script_recaptures_every_block_of_a_copy(tmp_path):
    copy = tmp_path / "README.md"
    stale = re.sub(r"```text\n.*?\n```", "```text\nstale\n```", README, flags=re.S)
    assert stale.count("stale") >= len(COMMANDS)
    copy.write_text(stale, encoding="utf-8")

    assert readme_output.main([str(copy)]) == 0
    fresh = copy.read_text(encoding="utf-8")
    assert "stale" not in fresh
    outside = re.compile(r"<!-- output: .*? -->\n.*?<!-- /output -->", re.S)
    assert outside.split(fresh) == outside.split(README)  # only the blocks changed
    blocks = {e.spec: fresh[e.start:e.stop] for e in readme_output.find_examples(fresh)}
    assert "balanced" in next(b for s, b in blocks.items() if s.startswith("ecomctl run-all"))
    assert "top cities by net revenue" in next(b for s, b in blocks.items() if s.startswith("ecomctl dashboards"))
    assert str(tmp_path) not in fresh
    assert readme_output.main([str(copy), "--check"]) == 0


def test_the_script_names_a_broken_block_or_a_failing_command(tmp_path, capsys):
    broken = tmp_path / "README.md"
    broken.write_text("# x\n<!-- output: ecomctl status -->\n```text\n```\n")
    assert readme_output.main([str(broken), "--check"]) == 1
    assert "<!-- /output -->" in capsys.readouterr().err

    broken.write_text("# x\n<!-- output: ls -la -->\n<!-- /output -->\n")
    assert readme_output.main([str(broken)]) == 1
    assert "must start with `ecomctl`" in capsys.readouterr().err

    broken.write_text("# x\n<!-- output: ecomctl transform -->\n<!-- /output -->\n")
    assert readme_output.main([str(broken)]) == 1  # nothing is set up in the fresh folder
    assert "`ecomctl transform` exited 1" in capsys.readouterr().err
    assert readme_output.main([str(REPO / "README.md"), "--check"]) == 0
