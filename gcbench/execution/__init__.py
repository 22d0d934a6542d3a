"""gcbench.run."""
