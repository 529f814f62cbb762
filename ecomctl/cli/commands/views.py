"""ecomctl views"""

import typer

from ecomctl.cli.app import app, run_command
from ecomctl.cli.options import DryRun, FullRefresh


@app.command()
def views(ctx: typer.Context, full_refresh: FullRefresh = False, dry_run: DryRun = False) -> None:
    """Create or refresh the eight materialized views (tables on DuckDB, which has none)."""
    run_command(ctx, "views", lambda pipeline, console: ([pipeline.views(full_refresh)], None),
                dry_run=dry_run)
