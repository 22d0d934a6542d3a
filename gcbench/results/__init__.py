"""Step 4, what a run leaves: the SQLite store (the one owner of SQL and of the run-record
schema), typed reads, the per-task records, and the tidy pandas views.

Imports ``gcbench.metrics`` (column declarations), ``gcbench.codecs`` (rebuilding a stored
codec), ``gcbench.data`` and ``gcbench.core``; never execution, analysis or above.
"""
