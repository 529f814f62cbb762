"""ecomctl setup"""

import typer

from ecomctl.cli.app import app, run_command


@app.command()
def setup(ctx: typer.Context) -> None:
    """Create the schemas, tables and landing volume (pending versioned SQL) and check the transport. Idempotent."""
    run_command(ctx, "setup", lambda pipeline, console: ([pipeline.setup()], None))
