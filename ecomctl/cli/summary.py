"""A markdown summary of a run for $GITHUB_STEP_SUMMARY."""

from __future__ import annotations


def markdown_summary(report) -> str:
    status = "succeeded" if report.ok else f"failed: {report.error}"
    from ecomctl.cli.console import step_headline

    lines = [f"### ecomctl {report.command} on {report.target} {status}", "",
             "| step | result | seconds |", "|---|---|---:|"]
    for step in report.steps:
        lines.append(f"| {step.step} | {step_headline(step)} | {step.seconds:.2f} |")
    r = report.reconciliation
    if r:
        lines += ["", "| events | count |", "|---|---:|"]
        for key in ("sent", "received", "landed", "total_landed", "valid_orders", "rejected",
                    "duplicates_removed", "expired"):
            if r.get(key) is not None:
                lines.append(f"| {key.replace('_', ' ')} | {r[key]:,} |")
        lines.append(f"| balanced | {'yes' if r['balanced'] else 'NO'} |")
    figures = next((s.details.get("key_figures") for s in report.steps if s.step == "dashboards"), None)
    if figures:
        lines += ["", "| key figure | value |", "|---|---:|"]
        lines += [f"| {label} | {value} |" for label, value in figures.items()]
    return "\n".join(lines) + "\n\n"
