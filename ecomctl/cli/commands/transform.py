"""ecomctl transform"""

import typer

from ecomctl.cli.app import app, run_command
from ecomctl.cli.options import DryRun


@app.command()
def transform(ctx: typer.Context, dry_run: DryRun = False) -> None:
    """Build the silver and gold tables from bronze."""
    run_command(ctx, "transform", lambda pipeline, console: ([pipeline.transform()], None),
                dry_run=dry_run)
