"""ecomctl run-all"""

import typer

from ecomctl.cli.app import GlobalOptions, command, run_command
from ecomctl.cli.options import (AsOf, Count, CreateCatalog, Debug, DryRun, EnvFile, FullRefresh, Home,
                                 Json, Seed, Target, utc)


@command("run-all")
def run_all(ctx: typer.Context, count: Count = None, seed: Seed = None, as_of: AsOf = None,
            create_catalog: CreateCatalog = False, full_refresh: FullRefresh = False,
            dry_run: DryRun = False, target: Target = None,
            home: Home = None, env_file: EnvFile = None, json_output: Json = False,
            debug: Debug = False) -> None:
    """setup, generate, ingest, transform, views, dashboards in order; stops at the first failure; ends with a summary and a reconciliation."""

    def work(pipeline, console):
        steps, reconciliation = pipeline.run_all(count, seed, utc(as_of), create_catalog, full_refresh)
        console.render_summary(steps, reconciliation)
        pipeline.check_reconciliation(reconciliation)
        return steps, reconciliation

    run_command(ctx, "run-all", work, dry_run=dry_run,
                options=GlobalOptions(target, home, env_file, json_output, debug))
