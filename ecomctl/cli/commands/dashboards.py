"""ecomctl dashboards"""

import typer

from ecomctl.cli.app import app, run_command
from ecomctl.cli.options import DryRun


@app.command()
def dashboards(ctx: typer.Context, dry_run: DryRun = False) -> None:
    """Run the ten dashboard queries and the Genie examples; write the HTML dashboard (databricks: publish the dashboard, saved queries and Genie spaces) and print the key figures."""
    run_command(ctx, "dashboards", lambda pipeline, console: ([pipeline.dashboards()], None),
                dry_run=dry_run)
