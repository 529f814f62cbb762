"""ecomctl setup"""

import typer

from ecomctl.cli.app import app, run_command
from ecomctl.cli.options import CreateCatalog, DryRun


@app.command()
def setup(ctx: typer.Context, create_catalog: CreateCatalog = False, dry_run: DryRun = False) -> None:
    """Create the schemas, tables and landing volume (pending versioned SQL) and check the transport. Idempotent."""
    run_command(ctx, "setup", lambda pipeline, console: ([pipeline.setup(create_catalog)], None),
                dry_run=dry_run)
