"""ecomctl transform"""

import typer

from ecomctl.cli.app import app, run_command
from ecomctl.cli.options import DryRun, FullRefresh


@app.command()
def transform(ctx: typer.Context, full_refresh: FullRefresh = False, dry_run: DryRun = False) -> None:
    """Build the silver and gold tables from bronze: the orders changed since the last transform."""
    run_command(ctx, "transform", lambda pipeline, console: ([pipeline.transform(full_refresh)], None),
                dry_run=dry_run)
