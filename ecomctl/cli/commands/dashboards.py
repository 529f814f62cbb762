"""ecomctl dashboards"""

import typer

from ecomctl.cli.app import GlobalOptions, command, run_command
from ecomctl.cli.options import Debug, DryRun, EnvFile, Home, Json, Target


@command()
def dashboards(ctx: typer.Context, dry_run: DryRun = False, target: Target = None, home: Home = None,
               env_file: EnvFile = None, json_output: Json = False, debug: Debug = False) -> None:
    """Run the ten dashboard queries and the Genie examples; write the HTML dashboard (databricks: publish the dashboard, saved queries and Genie spaces) and print the key figures."""
    run_command(ctx, "dashboards", lambda pipeline, console: ([pipeline.dashboards()], None),
                dry_run=dry_run, options=GlobalOptions(target, home, env_file, json_output, debug))
