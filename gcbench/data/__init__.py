"""gcbench.data."""
