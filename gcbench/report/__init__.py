"""gcbench.report.document."""
