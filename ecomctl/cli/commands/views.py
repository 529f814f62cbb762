"""ecomctl views"""

import typer

from ecomctl.cli.app import GlobalOptions, command, run_command
from ecomctl.cli.options import Debug, DryRun, EnvFile, FullRefresh, Home, Json, Target


@command()
def views(ctx: typer.Context, full_refresh: FullRefresh = False, dry_run: DryRun = False,
          target: Target = None, home: Home = None, env_file: EnvFile = None,
          json_output: Json = False, debug: Debug = False) -> None:
    """Create or refresh the eight materialized views (tables on DuckDB, which has none)."""
    run_command(ctx, "views", lambda pipeline, console: ([pipeline.views(full_refresh)], None),
                dry_run=dry_run, options=GlobalOptions(target, home, env_file, json_output, debug))
