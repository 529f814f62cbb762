"""ecomctl status"""

import typer

from ecomctl.cli.app import GlobalOptions, command, run_command, show_reconciliation
from ecomctl.cli.options import Debug, DryRun, EnvFile, Home, Json, Target


@command()
def status(ctx: typer.Context, dry_run: DryRun = False, target: Target = None, home: Home = None,
           env_file: EnvFile = None, json_output: Json = False, debug: Debug = False) -> None:
    """Row counts per table, lag per partition (last enqueued vs last landed), applied SQL versions."""

    def work(pipeline, console):
        step = pipeline.status()
        # While another process writes the warehouse, status shows what it can without it.
        reconciliation = None if step.details.get("warehouse_busy") else pipeline.bronze_reconciliation()
        show_reconciliation(pipeline, console, reconciliation)
        return [step], reconciliation

    run_command(ctx, "status", work, dry_run=dry_run,
                options=GlobalOptions(target, home, env_file, json_output, debug))
