"""Options shared by several commands, and the global options every command takes too.

The global options (--target, --home, --env-file, --json, --debug) are declared once here and
taken both by the app's callback (before the command) and by every command (after it), so
`ecomctl run-all --json` and `ecomctl --json run-all` are the same; app.py merges the two.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ecomctl.targets import TARGETS

GLOBAL_PANEL = "Global options (before or after the command)"

# The choices of --target come from the registry, so a new target is offered without an edit here.
TargetName = Enum("TargetName", {name: name for name in TARGETS}, type=str)  # type: ignore[misc]
DEFAULT_TARGET = next(iter(TARGETS))

Target = Annotated[Optional[TargetName], typer.Option(
    "--target", "-t", case_sensitive=False,
    help=f"Where the pipeline runs: {', '.join(f'{n} ({t.description})' for n, t in TARGETS.items())}. "
         f"\\[env: ECOMCTL_TARGET; default: {DEFAULT_TARGET}]",
    show_default=False, rich_help_panel=GLOBAL_PANEL)]
Home = Annotated[Optional[Path], typer.Option(
    "--home", help="Local state folder. \\[env: ECOMCTL_HOME; default: ./.ecomctl]",
    show_default=False, rich_help_panel=GLOBAL_PANEL)]
# Checked by the parser, as every other option value is: a missing or unreadable file is a
# usage error (exit 2), like a misspelt option.
EnvFile = Annotated[Optional[Path], typer.Option(
    "--env-file", help="Read settings from this file instead of ./.env.", show_default=False,
    exists=True, dir_okay=False, readable=True, rich_help_panel=GLOBAL_PANEL)]
Json = Annotated[bool, typer.Option(
    "--json", help="Print one JSON report on stdout; human output goes to stderr.",
    rich_help_panel=GLOBAL_PANEL)]
Debug = Annotated[bool, typer.Option(
    "--debug", help="Show the full traceback on errors.",
    rich_help_panel=GLOBAL_PANEL)]

Count = Annotated[Optional[int], typer.Option(
    "--count", "-n", min=0, help="Events to send (0 sends none). \\[env: ECOMCTL_EVENT_COUNT; default: 300]",
    show_default=False)]
Seed = Annotated[Optional[int], typer.Option(
    "--seed", help="Make the events reproducible: the same seed on the same day (or with the same "
    "--as-of) sends identical events. \\[default: none, new events every run]", show_default=False)]
DryRun = Annotated[bool, typer.Option(
    "--dry-run", help="Print every statement, file upload and API call the command would make, in "
    "order, without connecting or needing credentials.")]
CreateCatalog = Annotated[bool, typer.Option(
    "--create-catalog", help="Create the catalog if it does not exist (Databricks; otherwise it must "
    "exist already).")]
FullRefresh = Annotated[bool, typer.Option(
    "--full-refresh", help="Rebuild every derived table from bronze.raw_events instead of folding in "
    "only what is new (a layer whose SQL files changed since its last build is rebuilt by itself).")]
AsOf = Annotated[Optional[datetime], typer.Option(
    "--as-of", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], metavar="DATE",
    help="Clock of the generator (UTC), YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS: orders fall in the 30 "
    "days before it. \\[default: midnight UTC today with --seed, else now]", show_default=False)]


def utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value
