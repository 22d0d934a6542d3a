"""Codecs: the codec registry and its adapters, one module per family.

The package answers as the codec registry (``gcbench.codecs.names()``, ``.get(name)``,
``"jpeg" in gcbench.codecs``); specs are data in ``codecs/*.toml``. Layer: imports
``gcbench.core``, ``gcbench.data`` and ``gcbench.weights``; never metrics, results or above.
"""

from gcbench.codecs.registry import codecs as _codecs
from gcbench.core.registry import expose_registry

expose_registry(__name__, _codecs)
