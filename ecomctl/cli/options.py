"""Options shared by several commands."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

Count = Annotated[Optional[int], typer.Option(
    "--count", "-n", min=0, help="Events to send. \\[env: ECOMCTL_EVENT_COUNT; default: 300]",
    show_default=False)]
Seed = Annotated[Optional[int], typer.Option(
    "--seed", help="Make the events reproducible: the same seed on the same day (or with the same "
    "--as-of) sends identical events.", show_default=False)]
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
    "--as-of", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"],
    help="Clock of the generator (UTC): orders fall in the 30 days before it.", show_default=False)]


def utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value
