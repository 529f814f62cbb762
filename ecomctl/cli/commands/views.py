"""ecomctl views"""

import typer

from ecomctl.cli.app import app, run_command


@app.command()
def views(ctx: typer.Context) -> None:
    """Create or refresh the eight materialized views (tables on DuckDB, which has none)."""
    run_command(ctx, "views", lambda pipeline, console: ([pipeline.views()], None))
