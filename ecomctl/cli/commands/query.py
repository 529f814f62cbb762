"""ecomctl query"""

import sys
from typing import Annotated

import typer

from ecomctl.cli.app import GlobalOptions, command, run_command
from ecomctl.cli.options import Debug, DryRun, EnvFile, Home, Json, Target
from ecomctl.query import DEFAULT_LIMIT, run_query


@command()
def query(ctx: typer.Context,
          sql: Annotated[str, typer.Argument(
              metavar="SQL", show_default=False,
              help="One statement that reads (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN), in Databricks "
                   "SQL, with table names as ecomctl prints them (ecommerce.bronze.orders) or as "
                   "${catalog}.${bronze}.orders; - reads it from standard input.")],
          limit: Annotated[int, typer.Option(
              "--limit", min=1, help="Most rows to show (a query without a LIMIT of its own gets one).")
          ] = DEFAULT_LIMIT,
          dry_run: DryRun = False, target: Target = None, home: Home = None,
          env_file: EnvFile = None, json_output: Json = False, debug: Debug = False) -> None:
    """Run one read-only SQL query on the target's warehouse and print its rows (--json: in the report)."""
    if sql == "-" and sys.stdin.isatty():
        typer.echo("reading the statement from standard input; end it with Ctrl-D", err=True)
    text = sys.stdin.read() if sql == "-" else sql

    def work(pipeline, console):
        # Read-only: locally the file is opened for reading, beside other readers, never waiting
        # behind a writer.
        with pipeline.target.warehouse(read_only=True) as warehouse:
            step = run_query(warehouse, text, limit, reporter=console)
        if not console.dry_run:
            render(console, step)
        return [step], None

    run_command(ctx, "query", work, dry_run=dry_run,
                options=GlobalOptions(target, home, env_file, json_output, debug))


def render(console, step) -> None:
    d = step.details
    shown = len(d["rows"])
    console.render_table(f"result ({shown:,} row{'' if shown == 1 else 's'})", d["columns"], d["rows"])
    if d["truncated"]:
        console.message(f"the query returned more rows than --limit {d['limit']:,}: these are the first")
