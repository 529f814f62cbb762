"""ecomctl transform"""

import typer

from ecomctl.cli.app import app, run_command


@app.command()
def transform(ctx: typer.Context) -> None:
    """Build the silver and gold tables from bronze."""
    run_command(ctx, "transform", lambda pipeline, console: ([pipeline.transform()], None))
