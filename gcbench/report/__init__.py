"""Step 6, what people read: the self-contained HTML/Markdown report and its example crops.

Imports every layer below it (timing, study, execution, analysis, results, …); only the CLI
and the catalog stand above it.
"""
