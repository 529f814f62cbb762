"""ecomctl status"""

import typer

from ecomctl.cli.app import app, run_command
from ecomctl.cli.options import DryRun


@app.command()
def status(ctx: typer.Context, dry_run: DryRun = False) -> None:
    """Row counts per table, lag per partition (last enqueued vs last landed), applied SQL versions."""
    run_command(ctx, "status", lambda pipeline, console: ([pipeline.status()], None),
                dry_run=dry_run)
