"""The Typer app, its global options, and the one place where commands turn results and errors into output."""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from ecomctl import __version__

app = typer.Typer(
    name="ecomctl",
    help="Run the e-commerce order-event pipeline: "
         "generate -> event hub -> bronze -> silver -> gold -> views -> dashboards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # tracebacks only with --debug, and never with locals (secrets)
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

if os.environ.get("NO_COLOR"):
    # Typer's help is drawn by Rich too; NO_COLOR there means no escape sequences at all, as in
    # PipelineConsole (Rich alone would still print bold). Only imported when set: --help stays fast.
    import typer.rich_utils

    typer.rich_utils.COLOR_SYSTEM = None


@dataclass
class GlobalOptions:
    target: Optional[str]
    home: Optional[Path]
    env_file: Optional[Path]
    json: bool
    debug: bool


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ecomctl {__version__}")
        raise typer.Exit()


def _complete_target(incomplete: str) -> list[str]:
    from ecomctl.targets import TARGETS  # only when completing: --help stays fast

    return [name for name in TARGETS if name.startswith(incomplete)]


@app.callback()
def main_options(
    ctx: typer.Context,
    target: Annotated[Optional[str], typer.Option(
        "--target", "-t", help="local (embedded event log + DuckDB) or databricks. \\[env: ECOMCTL_TARGET]",
        show_default=False, autocompletion=_complete_target)] = None,
    home: Annotated[Optional[Path], typer.Option(
        "--home", help="Local state folder. \\[env: ECOMCTL_HOME; default: ./.ecomctl]",
        show_default=False)] = None,
    env_file: Annotated[Optional[Path], typer.Option(
        "--env-file", help="Read settings from this file instead of ./.env.", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON report on stdout; human output goes to stderr.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    ctx.obj = GlobalOptions(target=target, home=home, env_file=env_file, json=json_output,
                            debug=debug or os.environ.get("ECOMCTL_DEBUG") == "1")


def run_command(ctx: typer.Context, command: str,
                work: Callable[[Any, Any], tuple[list, dict | None]], dry_run: bool = False) -> None:
    """Load settings, run `work(pipeline, console)`, render, write the run report, exit 0, 1 or 2.

    `work` returns (steps, reconciliation). With `dry_run`, the pipeline records a plan instead of
    connecting, and the plan is printed (and put in the report): the one place where the flag
    becomes a plan, which the target turns into planned collaborators.
    """
    from ecomctl.cli.console import PipelineConsole, Scrubber
    from ecomctl.config import Settings
    from ecomctl.errors import EcomctlError, UsageError
    from ecomctl.pipeline import Pipeline
    from ecomctl.plan import Plan
    from ecomctl.results import RunReport, utc_now

    options: GlobalOptions = ctx.obj
    console = PipelineConsole(to_stderr=options.json)
    console.dry_run = dry_run
    plan = Plan() if dry_run else None
    errors = PipelineConsole(to_stderr=True, interactive=False)
    settings = None
    report = RunReport(command=command, target=options.target or "?", home=str(options.home or ""),
                       started_at=utc_now().strftime("%Y-%m-%dT%H:%M:%S+0000"), version=__version__)
    started = utc_now()
    exit_code = 0
    try:
        flags = {"target": options.target, "home": options.home}
        settings = Settings.load(flags, env_file=options.env_file)
        scrub = Scrubber(settings.secrets())
        console.scrub = errors.scrub = scrub
        report.target, report.home = settings.target, str(settings.home)
        report.settings = settings.public()
        with Pipeline(settings, reporter=console, plan=plan) as pipeline:
            steps, reconciliation = work(pipeline, console)
        report.steps, report.reconciliation = steps, reconciliation
        if plan is not None:
            report.plan = plan.as_dicts()
            console.render_plan(plan)
    except KeyboardInterrupt:
        exit_code = _interrupted(report, console, errors)
    except Exception as exc:
        if _is_interrupt(exc):
            exit_code = _interrupted(report, console, errors)
        else:
            # A handled failure is its own message; anything else is a bug, still one line.
            if isinstance(exc, EcomctlError):
                message = str(exc)
            elif isinstance(exc, OSError):
                from ecomctl.errors import describe_os_error

                message = describe_os_error(exc)
            else:
                # A bug: its first line (an engine's message can run to a caret diagram);
                # --debug shows the rest in the traceback.
                from ecomctl.errors import first_line

                message = f"unexpected {type(exc).__name__}: {first_line(exc)}"
            report.steps = list(console.finished)
            # The counts that do not add up belong in the report that says they do not.
            report.reconciliation = getattr(exc, "reconciliation", None)
            report.ok, report.error = False, errors.scrub(message)
            if options.debug:
                _print_traceback(errors.scrub)
            errors.error(message, debug_hint=not options.debug)
            exit_code = 2 if isinstance(exc, UsageError) else 1
    _finish(options, report, settings, errors, started, exit_code)


def show_reconciliation(pipeline, console, reconciliation: dict | None) -> None:
    """Print the reconciliation (when there is one), then fail the command if it does not add up."""
    if reconciliation is not None:
        console.render_reconciliation(reconciliation)
    pipeline.check_reconciliation(reconciliation)


def _finish(options: GlobalOptions, report, settings, errors, started, exit_code: int) -> None:
    """Write the run report (scrubbed) to runs/, stdout (--json) and the GitHub summary; exit."""
    from ecomctl.results import utc_now

    report.finished_at = utc_now().strftime("%Y-%m-%dT%H:%M:%S+0000")
    report.seconds = round((utc_now() - started).total_seconds(), 3)
    text = errors.scrub(report.to_json())
    if settings is not None:
        try:
            errors.report_written(report.write(settings.runs_dir, text), ok=not exit_code)
        except OSError as exc:
            errors.message(f"could not write the run report to {settings.runs_dir}: {exc}")
    if options.json:
        sys.stdout.write(text + "\n")
    _github_summary(report, errors.scrub)
    if exit_code:
        raise typer.Exit(exit_code)


def _is_interrupt(exc: BaseException) -> bool:
    # DuckDB turns Ctrl-C during a statement into an error of its own.
    return "query interrupted" in str(exc).lower()


def _interrupted(report, console, errors) -> int:
    report.steps = list(console.finished)
    report.ok, report.error = False, "interrupted"
    errors.error("interrupted; what finished is kept. setup, ingest, transform, views and "
                 "dashboards are safe to re-run; generate sends --count events again",
                 debug_hint=False)
    return 1


def _print_traceback(scrub: Callable[[str], str]) -> None:
    sys.stderr.write(scrub(traceback.format_exc()))


def _github_summary(report, scrub: Callable[[str], str]) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    from ecomctl.cli.summary import markdown_summary

    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(scrub(markdown_summary(report)))
    except OSError:
        pass
