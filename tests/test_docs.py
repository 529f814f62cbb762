"""The documentation as a user reads it, checked for content, not layout.

README.md gives the two commands that install and run (the test one is what .ci/run runs) and
one line per command linking into docs/commands.md, the reference that
scripts/readme_output.py keeps real: every command and every option of the Typer app is
documented there, its options tables are current, and its output blocks are what the commands
print. Every relative link in the docs leads to a file, and a heading, that exist.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path

import pytest
import typer.main

from ecomctl.cli.main import app
from ecomctl.config import FLAGS, SETTINGS

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
COMMANDS_MD = REPO / "docs" / "commands.md"
REFERENCE = COMMANDS_MD.read_text(encoding="utf-8")
DOCS = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


readme_output = _load_script("readme_output")
settings_docs = _load_script("settings_docs")
GROUP = typer.main.get_command(app)  # the click group Typer builds (typer vendors its own click)
COMMANDS = sorted(GROUP.commands)


def without_code(text: str) -> str:
    """Markdown with its fenced code blocks removed: a `# comment` there is not a heading."""
    return re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.S | re.M)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", without_code(text), re.M)}


def section(command: str) -> str:
    """The reference's text under `## `ecomctl <command>``, up to the next heading of that level."""
    found = re.search(rf"^## `ecomctl {re.escape(command)}`\n(.*?)(?=^## |\Z)", REFERENCE, re.S | re.M)
    assert found, f"docs/commands.md has no section `## \\`ecomctl {command}\\``"
    return found.group(1)


def ci_test_command() -> str:
    return (REPO / ".ci" / "run").read_text().split("# -- the README's test command --\n", 1)[1].strip()


# -- README ---------------------------------------------------------------------------------------

def test_the_two_commands_come_first():
    lines = README.splitlines()
    assert lines[0] == "# ecomctl"
    fence = next(n for n, line in enumerate(lines) if line.startswith("```"))
    assert lines[fence] == "```bash" and not any(line.startswith("#") for line in lines[1:fence])
    block = lines[fence + 1: lines.index("```", fence + 1)]
    commands = [line for line in block if line and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("pip install . && ecomctl run-all")
    assert commands[1].endswith(ci_test_command())


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_one_readme_line_linking_to_its_reference(command):
    lines = [line for line in README.splitlines()
             if f"[`ecomctl {command}`](docs/commands.md#" in line]
    assert len(lines) == 1, f"README needs one line linking `ecomctl {command}` to docs/commands.md"
    anchor = re.search(rf"\[`ecomctl {re.escape(command)}`\]\(docs/commands\.md#([^)]+)\)", lines[0])[1]
    section(command)
    assert anchor == slug(f"`ecomctl {command}`")


def test_the_readme_orients_a_user_and_stays_short():
    headings = re.findall(r"^## (.+)$", without_code(README), re.M)
    for wanted in ("Quickstart", "How it works", "Targets", "Commands", "Configuration",
                   "In CI and cron", "Where to go next"):
        assert any(h.startswith(wanted) for h in headings), wanted
    for target in ("docs/commands.md", "docs/configuration.md", "docs/databricks.md", "docs/design.md",
                   "docs/report.md", "docs/benchmark.md", "CONTRIBUTING.md",
                   ".github/workflows/pipeline.yml"):
        assert f"]({target}" in README, f"README does not link {target}"
    for option in ("--target", "--home", "--env-file", "--json", "--debug", "--version", "--dry-run"):
        assert f"`{option}`" in README, option
    # The detail lives in docs/: a README that grows past a screenful or two stops being read.
    assert len(README.splitlines()) <= 200


def test_the_cron_example_is_a_command_ecomctl_accepts(cli):
    (line,) = re.findall(r"```cron\n(.*?)\n```", README, re.S)
    fields = line.split(None, 5)
    assert len(fields) == 6 and all(re.fullmatch(r"[\d*/,-]+", f) for f in fields[:5])
    command = fields[5].split("bin/ecomctl ", 1)[1].split(">", 1)[0]
    assert cli(*shlex.split(command), "--help", use_home=False).exit_code == 0


# -- docs/commands.md --------------------------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_a_section_every_option_and_real_output(command):
    click_command = GROUP.commands[command]
    assert (click_command.help or "").strip(), f"`ecomctl {command}` has no help text"
    text = section(command)
    for param in readme_output.documented_params(click_command):
        name = param.opts[0] if param.param_type_name == "option" else param.metavar
        assert (param.help or "").strip(), f"`ecomctl {command} {name}` has no help text"
        assert f"`{name}`" in text, f"docs/commands.md does not document `ecomctl {command} {name}`"
    tables = readme_output.find_options_tables(text)
    assert [t.command for t in tables] == [command], \
        f"the `ecomctl {command}` section needs one `<!-- options: ecomctl {command} -->` block"
    blocks = readme_output.find_examples(text)
    assert any(example.argv[:1] == [command] for example in blocks), \
        f"the `ecomctl {command}` section has no `<!-- output: ecomctl {command} ... -->` block"


def test_the_reference_documents_only_commands_that_exist():
    documented = re.findall(r"^## `ecomctl ([a-z-]+)`$", REFERENCE, re.M)
    assert sorted(documented) == COMMANDS


def test_global_options_have_help_and_are_documented():
    options = [p for p in GROUP.params if p.param_type_name == "option" and not p.hidden]
    for param in options:
        assert (param.help or "").strip(), param.opts[0]
        if param.opts[0] != "--help":
            assert f"`{param.opts[0]}`" in REFERENCE, f"docs/commands.md does not mention {param.opts[0]}"
    prose = re.sub(r"^<!-- options: .*?^<!-- /options -->", "", REFERENCE, flags=re.S | re.M)
    assert "--install-completion" in prose and "--show-completion" in prose


def test_options_tables_are_current():
    assert readme_output.stale_options_tables(REFERENCE) == [], \
        "options changed: run python scripts/readme_output.py"
    assert readme_output.main([str(COMMANDS_MD), "--check"]) == 0


def test_every_flag_that_sets_a_setting_is_named_in_the_configuration():
    """An option whose help says `[env: NAME` is the flag of that setting; docs/configuration.md
    (through config.FLAGS) names it, and names no flag that does not exist."""
    by_env = {s.env: s.attr for s in SETTINGS}
    seen = set()
    for command in [GROUP, *GROUP.commands.values()]:
        for param in command.params:
            found = re.search(r"env: ([A-Z_]+)", param.help or "")
            if param.param_type_name != "option" or not found:
                continue
            attr = by_env[found[1]]
            assert attr in FLAGS and f"`{param.opts[0]}`" in FLAGS[attr], (param.opts[0], found[1])
            seen.add(attr)
    assert seen == set(FLAGS)


def test_output_blocks_hold_output_that_fits_80_columns():
    examples = readme_output.find_examples(REFERENCE)
    assert len(examples) >= len(COMMANDS)
    for example in examples:
        block = REFERENCE[example.start:example.stop]
        body = block.split("```text\n", 1)[1].rsplit("\n```\n", 1)[0]
        lines = body.splitlines()
        assert lines, example.spec
        assert max(len(line) for line in lines) <= 80, example.spec
        if example.end is None:
            assert re.search(rf"^{re.escape(example.argv[0])}: finished in", body, re.M), example.spec
        else:
            assert len(lines) == example.lines + 1 and lines[0 if example.end == "tail" else -1] == "..."


def shape(block: str) -> str:
    """What a re-run must reproduce: the words and rows, not the timings or the column widths
    that follow from them."""
    text = re.sub(r"\d[\d,.]*", "#", block)
    return re.sub(r"([─━ ])\1+", r"\1", text)


@pytest.mark.slow
def test_the_script_recaptures_every_block_and_the_committed_output_is_current(tmp_path):
    copy = tmp_path / "commands.md"
    stale = re.sub(r"(<!-- output: [^\n]*-->\n```text\n).*?(\n```\n<!-- /output -->)", r"\1stale\2",
                   REFERENCE, flags=re.S)
    stale = re.sub(r"(<!-- options: [^\n]*-->\n).*?(<!-- /options -->)", r"\1\2", stale, flags=re.S)
    assert stale.count("stale") >= len(COMMANDS)
    copy.write_text(stale, encoding="utf-8")

    assert readme_output.main([str(copy)]) == 0
    fresh = copy.read_text(encoding="utf-8")
    assert "stale" not in fresh
    outside = re.compile(r"<!-- output: .*? -->\n.*?<!-- /output -->", re.S)
    assert outside.split(fresh) == outside.split(REFERENCE)  # only the blocks changed
    blocks = {e.spec: fresh[e.start:e.stop] for e in readme_output.find_examples(fresh)}
    assert "balanced" in next(b for s, b in blocks.items() if s.startswith("ecomctl run-all"))
    assert "top cities by net revenue" in next(b for s, b in blocks.items() if s.startswith("ecomctl dashboards"))
    assert str(tmp_path) not in fresh
    assert readme_output.main([str(copy), "--check"]) == 0
    # The committed outputs are what the commands print today, up to timings.
    committed = {e.spec: REFERENCE[e.start:e.stop] for e in readme_output.find_examples(REFERENCE)}
    for spec, block in blocks.items():
        assert shape(block) == shape(committed[spec]), \
            f"`{spec}` prints something else now: run python scripts/readme_output.py"


def test_the_script_names_a_broken_block_or_a_failing_command(tmp_path, capsys):
    broken = tmp_path / "commands.md"
    broken.write_text("# x\n<!-- output: ecomctl status -->\n```text\n```\n")
    assert readme_output.main([str(broken), "--check"]) == 1
    assert "<!-- /output -->" in capsys.readouterr().err

    broken.write_text("# x\n<!-- options: ecomctl status -->\n| stale |\n")
    assert readme_output.main([str(broken), "--check"]) == 1
    assert "<!-- /options -->" in capsys.readouterr().err

    broken.write_text("# x\n<!-- options: ecomctl status -->\n| stale |\n<!-- /options -->\n")
    assert readme_output.main([str(broken), "--check"]) == 1
    assert "options tables out of date" in capsys.readouterr().err

    broken.write_text("# x\n<!-- options: ecomctl no-such-command -->\n<!-- /options -->\n")
    assert readme_output.main([str(broken), "--check"]) == 1
    assert "no command 'no-such-command'" in capsys.readouterr().err

    broken.write_text("# x\n<!-- output: ls -la -->\n<!-- /output -->\n")
    assert readme_output.main([str(broken)]) == 1
    assert "must start with `ecomctl`" in capsys.readouterr().err

    broken.write_text("# x\n<!-- output: ecomctl transform -->\n<!-- /output -->\n")
    assert readme_output.main([str(broken)]) == 1  # nothing is set up in the fresh folder
    assert "`ecomctl transform` exited 1" in capsys.readouterr().err
    assert readme_output.main([str(COMMANDS_MD), "--check"]) == 0


# -- generated settings docs and links ------------------------------------------------------------------

def test_the_settings_docs_are_current():
    assert settings_docs.stale() == [], "run python scripts/settings_docs.py"
    assert settings_docs.main(["--check"]) == 0


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.relative_to(REPO).as_posix())
def test_relative_links_lead_to_files_and_headings_that_exist(doc):
    text = without_code(doc.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)  # a link written in backticks is an example, not a link
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path).resolve() if path else doc
        assert linked.exists(), f"{doc.name} links {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked.read_text(encoding="utf-8")), \
                f"{doc.name} links {target}: {linked.name} has no such heading"
