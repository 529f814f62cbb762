"""ecomctl generate"""

import typer

from ecomctl.cli.app import GlobalOptions, command, run_command
from ecomctl.cli.options import AsOf, Count, Debug, DryRun, EnvFile, Home, Json, Seed, Target, utc


@command()
def generate(ctx: typer.Context, count: Count = None, seed: Seed = None, as_of: AsOf = None,
             dry_run: DryRun = False, target: Target = None, home: Home = None,
             env_file: EnvFile = None, json_output: Json = False, debug: Debug = False) -> None:
    """Send order events to the event hub, in batches filled to the transport's size limit."""
    run_command(ctx, "generate",
                lambda pipeline, console: ([pipeline.generate(count, seed, utc(as_of))], None),
                dry_run=dry_run, options=GlobalOptions(target, home, env_file, json_output, debug))
