"""ecomctl setup"""

import typer

from ecomctl.cli.app import GlobalOptions, command, run_command
from ecomctl.cli.options import CreateCatalog, Debug, DryRun, EnvFile, Home, Json, Target


@command()
def setup(ctx: typer.Context, create_catalog: CreateCatalog = False, dry_run: DryRun = False,
          target: Target = None, home: Home = None, env_file: EnvFile = None,
          json_output: Json = False, debug: Debug = False) -> None:
    """Create the schemas, tables and landing volume (pending versioned SQL) and check the transport. Idempotent."""
    run_command(ctx, "setup", lambda pipeline, console: ([pipeline.setup(create_catalog)], None),
                dry_run=dry_run, options=GlobalOptions(target, home, env_file, json_output, debug))
