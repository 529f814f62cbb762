"""ecomctl ingest"""

import typer

from ecomctl.cli.app import app, run_command


@app.command()
def ingest(ctx: typer.Context) -> None:
    """Land every event not yet landed (from each partition's checkpoint), load it into bronze.raw_events, build bronze."""

    def work(pipeline, console):
        step = pipeline.ingest()
        d = step.details
        reconciliation = pipeline.reconciliation(received=d["received"], landed=d["landed"],
                                                 expired=d["expired"],
                                                 recovered=d["recovered_from_earlier_run"])
        console.render_reconciliation(reconciliation)
        pipeline.check_reconciliation(reconciliation)
        return [step], reconciliation

    run_command(ctx, "ingest", work)
