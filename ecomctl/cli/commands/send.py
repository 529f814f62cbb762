"""ecomctl send"""

from typing import Annotated

import typer

from ecomctl.cli.app import GlobalOptions, command, run_command
from ecomctl.cli.options import Debug, DryRun, EnvFile, Home, Json, Target


@command()
def send(ctx: typer.Context, file: Annotated[str, typer.Argument(
        metavar="FILE", help="JSON-lines file to send, one event per line; - reads standard input.",
        show_default=False)], dry_run: DryRun = False, target: Target = None, home: Home = None,
        env_file: EnvFile = None, json_output: Json = False, debug: Debug = False) -> None:
    """Send each line of a JSON-lines file as one event, unvalidated (bronze validates): for replays and backfills."""
    run_command(ctx, "send", lambda pipeline, console: ([pipeline.send(file)], None), dry_run=dry_run,
                options=GlobalOptions(target, home, env_file, json_output, debug))
