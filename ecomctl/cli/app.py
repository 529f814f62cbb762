"""The Typer app, its global options, and the one place where commands turn results and errors into output.

Exit codes, one rule: 0 when the command did what it was asked; 1 when it ran and failed (a
handled failure, a bad setting in the environment or a .env file, an unexpected error); 2 when
the command line cannot run as given (an unknown command or option, a bad option value, a
missing or unreadable --env-file, something the target cannot do); 128 + the signal's number
when a signal stopped it (130 for Ctrl-C, 143 for SIGTERM).
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from ecomctl import __version__
from ecomctl.cli.options import Debug, EnvFile, Home, Json, Target


class _PlainFlags:
    """Help that reads as the command line is typed: an on/off flag shows no value placeholder
    (Typer draws `<bool>`), and a required argument shows as FILE, not {FILE}."""

    def get_params(self, ctx: Any) -> list:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)  # type: ignore[misc]
        return [re.sub(r"^\{(.+)\}", r"\1", piece) for piece in pieces]


class EcomctlGroup(_PlainFlags, TyperGroup):
    pass


class EcomctlCommand(_PlainFlags, TyperCommand):
    pass


app = typer.Typer(
    name="ecomctl",
    cls=EcomctlGroup,
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


def command(name: str | None = None) -> Callable:
    """Register a command on the app, with the help layout of every ecomctl command."""
    return app.command(name, cls=EcomctlCommand)


@dataclass
class GlobalOptions:
    """The global options of one place on the command line (before or after the command)."""

    target: Optional[str] = None
    home: Optional[Path] = None
    env_file: Optional[Path] = None
    json: bool = False
    debug: bool = False

    def __post_init__(self) -> None:
        self.target = getattr(self.target, "value", self.target)  # the --target choice's name

    def then(self, later: "GlobalOptions") -> "GlobalOptions":
        """These options (before the command) overridden by `later` (after it): as for any option
        given twice, the last one on the command line wins."""
        return GlobalOptions(
            target=later.target if later.target is not None else self.target,
            home=later.home if later.home is not None else self.home,
            env_file=later.env_file if later.env_file is not None else self.env_file,
            json=self.json or later.json, debug=self.debug or later.debug)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ecomctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    target: Target = None,
    home: Home = None,
    env_file: EnvFile = None,
    json_output: Json = False,
    debug: Debug = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    ctx.obj = GlobalOptions(target=target, home=home, env_file=env_file, json=json_output,
                            debug=debug or os.environ.get("ECOMCTL_DEBUG") == "1")


def run_command(ctx: typer.Context, command: str,
                work: Callable[[Any, Any], tuple[list, dict | None]], dry_run: bool = False, *,
                options: GlobalOptions | None = None) -> None:
    """Load settings, run `work(pipeline, console)`, render, write the run report, exit.

    `work` returns (steps, reconciliation). `options` are the global options given after the
    command, merged over those given before it. With `dry_run`, the pipeline records a plan
    instead of connecting, and the plan is printed (and put in the report): the one place where
    the flag becomes a plan, which the target turns into planned collaborators.
    """
    from ecomctl.cli.console import PipelineConsole, Scrubber
    from ecomctl.cli.signals import StopAtBatches, stop_signals
    from ecomctl.config import Settings
    from ecomctl.pipeline import Pipeline
    from ecomctl.plan import Plan
    from ecomctl.results import RunReport, utc_now

    options = (ctx.obj or GlobalOptions()).then(options or GlobalOptions())
    console = PipelineConsole(to_stderr=options.json)
    console.dry_run = dry_run
    plan = Plan() if dry_run else None
    errors = PipelineConsole(to_stderr=True, interactive=False)
    settings = None
    report = RunReport(command=command, target=options.target or "?", home=str(options.home or ""),
                       started_at=utc_now().strftime("%Y-%m-%dT%H:%M:%S+0000"), version=__version__)
    started = utc_now()
    exit_code = 0
    with stop_signals() as stop:
        try:
            flags = {"target": options.target, "home": options.home}
            settings = Settings.load(flags, env_file=options.env_file)
            scrub = Scrubber(settings.secrets())
            console.scrub = errors.scrub = scrub
            report.target, report.home = settings.target, str(settings.home)
            report.settings = settings.public()
            with Pipeline(settings, reporter=StopAtBatches(console, stop), plan=plan) as pipeline:
                steps, reconciliation = work(pipeline, console)
            report.steps, report.reconciliation = steps, reconciliation
            if plan is not None:
                report.plan = plan.as_dicts()
                console.render_plan(plan)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (signals.Stopped)
            stop.disarm()  # from here on, a signal must not cut the report short
            exit_code = _stopped(stop.signal_number(), report, console, errors)
        except Exception as exc:
            stop.disarm()
            if stop.signal_number(default=None) is not None or _is_interrupt(exc):
                # A signal turned into an engine's own error (DuckDB: "query interrupted").
                exit_code = _stopped(stop.signal_number(), report, console, errors)
            else:
                exit_code = _failed(exc, options, report, console, errors)
        finally:
            stop.disarm()
            _stop_child_processes()
        _finish(options, report, settings, errors, started, exit_code)


def _failed(exc: Exception, options: GlobalOptions, report, console, errors) -> int:
    """One line for a failure; the traceback with --debug; the exit code (see the module doc)."""
    from ecomctl.errors import EcomctlError, describe_os_error, first_line, is_usage_error

    expected = isinstance(exc, (EcomctlError, OSError))
    if isinstance(exc, EcomctlError):
        message = str(exc)  # a handled failure is its own message
    elif isinstance(exc, OSError):
        message = describe_os_error(exc)
    else:
        # A bug: its first line (an engine's message can run to a caret diagram); --debug shows
        # the rest in the traceback.
        message = f"unexpected {type(exc).__name__}: {first_line(exc)}"
    report.steps = list(console.finished)
    # The counts that do not add up belong in the report that says they do not.
    report.reconciliation = getattr(exc, "reconciliation", None)
    report.ok, report.error = False, errors.scrub(message)
    if options.debug:
        _print_traceback(errors.scrub)
    # The traceback is worth offering only where the message is not the whole story.
    errors.error(message, debug_hint=not expected and not options.debug)
    return 2 if is_usage_error(exc) else 1


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
        sys.stdout.flush()
    _github_summary(report, errors.scrub)
    if exit_code:
        raise typer.Exit(exit_code)


def _is_interrupt(exc: BaseException) -> bool:
    # DuckDB turns Ctrl-C during a statement into an error of its own.
    return "query interrupted" in str(exc).lower()


def _stopped(signal_number: int, report, console, errors) -> int:
    """The one line and the report of a command a signal stopped; its exit code, 128 + the number."""
    from ecomctl.cli.signals import describe, exit_code

    report.steps = list(console.finished)
    message = (f"{describe(signal_number)}{_where(report.steps)}; what finished is kept (setup, "
               "ingest, transform, views and dashboards are safe to re-run; generate and send "
               "send their events again)")
    report.ok, report.error = False, message
    errors.error(message, debug_hint=False)
    return exit_code(signal_number)


def _where(steps: list) -> str:
    """`during generate, after 86,907 of 200,000 events were sent`: the step a signal stopped."""
    running = steps[-1] if steps and steps[-1].details.get("failed") else None
    if running is None:
        return ""
    where = f" during {running.step}"
    sent = running.details.get("events")
    if running.step in ("generate", "send") and sent is not None:
        requested = running.details.get("requested")
        of = f" of {requested:,}" if requested is not None else ""
        where += f", after {sent:,}{of} {'event was' if sent == 1 and not of else 'events were'} sent"
    return where


def _stop_child_processes() -> None:
    # Only if a command got as far as drawing events in a child process (this keeps the
    # generator's imports out of every other command).
    generator = sys.modules.get("ecomctl.events.generator")
    if generator is not None:
        generator.stop_child_processes()


def _print_traceback(scrub: Callable[[str], str]) -> None:
    sys.stderr.write(scrub(traceback.format_exc()))


def _github_summary(report, scrub: Callable[[str], str]) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    from ecomctl.cli.summary import markdown_summary
    from ecomctl.targets import TARGETS

    target_known = report.target in TARGETS  # not "?" (no settings) nor an unknown name

    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(scrub(markdown_summary(report, target_known=target_known)))
    except OSError:
        pass
