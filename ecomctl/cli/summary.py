"""A markdown summary of a run for $GITHUB_STEP_SUMMARY."""

from __future__ import annotations


def markdown_summary(report, *, target_known: bool = True) -> str:
    """A short heading (the error goes below it, not in it), then the steps that ran, the
    reconciliation and the key figures, each when there is one."""
    where = f" on {report.target}" if target_known else ""
    lines = [f"### ecomctl {report.command}{where} {'succeeded' if report.ok else 'failed'}", ""]
    if not report.ok and report.error:
        lines += [f"> {report.error}", ""]
    if report.steps:
        from ecomctl.cli.console import step_headline

        lines += ["| step | result | seconds |", "|---|---|---:|"]
        for step in report.steps:
            result = "failed" if step.details.get("failed") else step_headline(step)
            lines.append(f"| {step.step} | {result} | {step.seconds:.2f} |")
        lines.append("")
    r = report.reconciliation
    if r:
        lines += ["| events | count |", "|---|---:|"]
        for key in ("sent", "received", "landed", "total_landed", "valid_orders", "rejected",
                    "duplicates_removed", "expired"):
            if r.get(key) is not None:
                lines.append(f"| {key.replace('_', ' ')} | {r[key]:,} |")
        lines += [f"| balanced | {'yes' if r['balanced'] else 'NO'} |", ""]
    figures = next((s.details.get("key_figures") for s in report.steps if s.step == "dashboards"), None)
    if figures:
        lines += ["| key figure | value |", "|---|---:|"]
        lines += [f"| {label} | {value} |" for label, value in figures.items()]
        lines.append("")
    return "\n".join(lines) + "\n"
