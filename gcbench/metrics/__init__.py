"""Metrics: the metric registry and one module per family of metrics.

The package answers as the metric registry (``gcbench.metrics.names()``, ``.get(name)``).
Set metrics receive their reference features from the run (``gcbench.execution``), never by
reading cache paths. Layer: imports ``gcbench.core``, ``gcbench.data``, ``gcbench.weights``;
never codecs, results or above.
"""

from gcbench.core.registry import expose_registry
from gcbench.metrics.registry import metrics as _metrics

expose_registry(__name__, _metrics)
