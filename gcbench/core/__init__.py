"""gcbench.core."""
