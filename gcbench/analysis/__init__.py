"""gcbench.analysis.bjontegaard."""
