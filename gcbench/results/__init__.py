"""gcbench.results."""
