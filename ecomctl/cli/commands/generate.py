"""ecomctl generate"""

import typer

from ecomctl.cli.app import app, run_command
from ecomctl.cli.options import AsOf, Count, DryRun, Seed, utc


@app.command()
def generate(ctx: typer.Context, count: Count = None, seed: Seed = None, as_of: AsOf = None,
             dry_run: DryRun = False) -> None:
    """Send order events to the event hub, in batches filled to the transport's size limit."""
    run_command(ctx, "generate",
                lambda pipeline, console: ([pipeline.generate(count, seed, utc(as_of))], None),
                dry_run=dry_run)
