"""The ground floor: errors, the generic registry, settings, the defaults table, paths, atomic files.

Pipeline step: none; every other package stands on it. Imports nothing from gcbench but
``gcbench.core`` itself (and ``gcbench.__version__``), and never torch.
"""
