"""ecomctl transform"""

import typer

from ecomctl.cli.app import GlobalOptions, command, run_command
from ecomctl.cli.options import Debug, DryRun, EnvFile, FullRefresh, Home, Json, Target


@command()
def transform(ctx: typer.Context, full_refresh: FullRefresh = False, dry_run: DryRun = False,
              target: Target = None, home: Home = None, env_file: EnvFile = None,
              json_output: Json = False, debug: Debug = False) -> None:
    """Build the silver and gold tables from bronze: the orders changed since the last transform."""
    run_command(ctx, "transform", lambda pipeline, console: ([pipeline.transform(full_refresh)], None),
                dry_run=dry_run, options=GlobalOptions(target, home, env_file, json_output, debug))
