"""Step 5, from stored numbers to conclusions: Bjøntegaard deltas and bootstrap intervals,
interpolation, published reference curves, and rate–distortion–perception plots.

Imports ``gcbench.results`` and below; never execution or above.
"""
