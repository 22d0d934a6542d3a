"""Step 3, running the pipeline: the one task factory (plan), the runner, the worker that
encodes, decodes and measures one task, executors (in process, local pool, Ray), the set-metric
stage and the equal-bitrate search.

``gcbench.run(RunConfig(...))`` is :func:`gcbench.execution.runner.run`. Imports results,
analysis (final tables and plots), metrics, codecs, weights, data and core; never timing,
study, report or the CLI.
"""
