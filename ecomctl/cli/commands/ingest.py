"""ecomctl ingest"""

import typer

from ecomctl.cli.app import app, run_command


@app.command()
def ingest(ctx: typer.Context) -> None:
    """Land every event not yet landed (from each partition's checkpoint), load it into bronze.raw_events, build bronze."""
    run_command(ctx, "ingest", lambda pipeline, console: ([pipeline.ingest()], None))
