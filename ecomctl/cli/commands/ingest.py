"""ecomctl ingest"""

from enum import Enum
from typing import Annotated

import typer

from ecomctl.cli.app import GlobalOptions, command, run_command, show_reconciliation
from ecomctl.cli.options import Debug, DryRun, EnvFile, FullRefresh, Home, Json, Target


class IngestMode(str, Enum):
    client = "client"
    kafka = "kafka"


@command()
def ingest(ctx: typer.Context,
           mode: Annotated[IngestMode, typer.Option(
               "--mode", help="client: read the hub here, land files, COPY INTO raw_events. kafka "
               "(databricks only): a streaming table reads the hub's Kafka endpoint on the server.")
           ] = IngestMode.client,
           full_refresh: FullRefresh = False, dry_run: DryRun = False, target: Target = None, home: Home = None,
           env_file: EnvFile = None, json_output: Json = False, debug: Debug = False) -> None:
    """Land every event not yet landed (from each partition's checkpoint), load it into bronze.raw_events, build bronze."""

    def work(pipeline, console):
        step = pipeline.ingest(mode.value, full_refresh)
        reconciliation = pipeline.ingest_reconciliation(step)
        show_reconciliation(pipeline, console, reconciliation)
        return [step], reconciliation

    run_command(ctx, "ingest", work, dry_run=dry_run,
                options=GlobalOptions(target, home, env_file, json_output, debug))
