"""Generative (GAN) codec architectures, built from their papers.

- :mod:`.hific` — HiFiC encoder, generator and hyperprior (Mentzer et al. 2020), state-dict
  compatible with NeuralCompression's ``HiFiCAutoencoder`` (so MS-ILLM checkpoints load), and the
  fast generative compression variants (extra down/up-sampling pair, Dense-N-k bottleneck);
- :mod:`.agustsson` — the GC encoder and generator of Agustsson et al. 2019;
- :mod:`.pix2pixhd` — the pix2pixHD global generator (Wang et al. 2018);
- :mod:`.zoo` — the table of architectures, their papers and documented state-dict keys;
- :mod:`.codec` — the ``gan`` codec adapter (checkpoints, or ``--random-weights`` for timing).

Importing this package imports neither torch nor CompressAI; building a model does.
"""

from gcbench.codecs.gan.zoo import ARCHITECTURES, Architecture, build, get, names

__all__ = ["ARCHITECTURES", "Architecture", "build", "get", "names"]
