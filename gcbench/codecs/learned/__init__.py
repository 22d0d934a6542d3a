"""Learned codecs: CompressAI's zoo, any CompressAI-style model, models that write their own
bytes, and NeuralCompression's HiFiC/MS-ILLM.

One module per job: :mod:`~gcbench.codecs.learned.codec` (what every learned adapter shares),
:mod:`~gcbench.codecs.learned.zoo` (CompressAI's zoo), :mod:`~gcbench.codecs.learned.model`
(user models), :mod:`~gcbench.codecs.learned.plugin` (self-coding models),
:mod:`~gcbench.codecs.learned.checkpoints` (loading and key fixing),
:mod:`~gcbench.codecs.learned.bits` (likelihoods → bits, strings → payload bytes),
:mod:`~gcbench.codecs.learned.padding`, :mod:`~gcbench.codecs.learned.convention` (CompressAI's
compress/decompress convention), :mod:`~gcbench.codecs.learned.stagehooks` (stage timing) and
:mod:`~gcbench.codecs.learned.flags` (``--random-weights``, ``--device``).

Adapters (``adapter = …`` in a spec):

- ``compressai`` — the CompressAI zoo: ``architecture`` (``bmshj2018-factorized``, …,
  ``cheng2020-attn``), ``metric`` (``mse`` or ``ms-ssim``); the setting is the quality index.
  Pretrained files resolve through :mod:`gcbench.weights` (``$GCBENCH_WEIGHTS``, torch hub's
  cache, a download where the network allows), checked against the hash prefix in their name.
- ``learned-model`` — any importable class following CompressAI's convention
  (``compress(x) -> {"strings", "shape"}``, ``decompress(strings, shape) -> {"x_hat"}``):
  ``model = "package.module:Class"``, ``kwargs = {…}``, plus a checkpoint.
- ``learned-plugin`` — the plugin protocol for models that make their bytes themselves::

      class MyCodec(torch.nn.Module):
          def encode_bytes(self, x: Tensor) -> bytes | dict:   # x: 1×3×H×W in [0, 1], padded
              ...  # or {"data": bytes, "bits_estimate": float} when there is no entropy coder
          def decode_bytes(self, data: bytes, shape: tuple[int, int]) -> Tensor:  # 1×3×H×W

  A model that reports ``bits_estimate`` (e.g. from its likelihoods, see
  :func:`bits_from_likelihoods`) gets rows with ``bpp_kind = "estimated"``, marked in plots.
- ``neuralcompression`` (in :mod:`gcbench.codecs.gan.neuralcompression`) — NeuralCompression's
  ``HiFiCAutoencoder`` (HiFiC, MS-ILLM), when that package is importable.
- ``gan`` (in :mod:`gcbench.codecs.gan.codec`) — the architecture zoo.

What every learned adapter does: the image goes to the device as float in [0, 1], is padded to
a multiple of ``pad_multiple`` (CompressAI's evaluation: 64, zeros, centred), the model's strings
and latent shape are written into :mod:`gcbench.codecs.container` (bpp counts every byte of it),
and the reconstruction is cropped back, clamped to [0, 1], scaled, rounded (not truncated) to
uint8. The container names the setting's model, so a stored bitstream decodes on its own.

Two counts of bits: ``bpp`` is the whole file (container included: 28–29 bytes more than the
strings on a Kodak image); ``bpp_payload`` is what the model's own evaluation counts
(:meth:`LearnedCodec.payload_bytes`): the summed length of the strings, as CompressAI's
``eval_model`` does, or NeuralCompression's pickled payload for HiFiC/MS-ILLM.

Options shared by all (``--codec-option NAME.KEY=VALUE`` overrides any of them):

- ``device``: ``"cpu"`` (default), ``"cuda"``, ``"cuda:1"``; ``gcbench run --device cuda`` sets it
  for learned codecs.
- ``checkpoint``: a path; ``{setting}`` in it is replaced by the setting (one file per quality),
  or a table ``{"1" = "a.pth", "2" = "b.pth"}``. ``sha256``: the file's SHA-256, or a table by
  setting when there are several files. Required with a checkpoint; a wrong hash, or keys that do
  not fit the model, are refused with the difference.
- ``checkpoint_key``: the entry of the file holding the state dict (default: the file itself, or
  its ``state_dict``/``model`` entry when the file is a training checkpoint);
  ``checkpoint_prefix``: a prefix added to every key (``"generator."`` for a bare pix2pixHD netG).
- ``random_weights = true`` (``gcbench run --random-weights``): untrained networks, seeded by
  ``seed``, for timing architectures only. Every row records it in its codec versions and
  provenance; it is never a fallback.
- ``pad_multiple``, ``pad_mode`` (``constant``, ``reflect``, ``replicate``), ``pad_align``
  (``center``, ``bottom-right``).
- ``stages``: which of the model's sub-modules are which stage, for the stage timing of
  :mod:`gcbench.codecs.stages` (defaults cover CompressAI's ``g_a``/``h_a``/``h_s``/``g_s`` and HiFiC's
  ``encoder``/``hyper_*``/``decoder``). Stages: ``preprocess`` (to tensor, pad), ``analysis``,
  ``hyper`` (hyper analysis/synthesis, context model), ``entropy-coding`` (everything else in
  ``compress``/``decompress``: the range coder, quantisation, and the container),
  ``synthesis``, ``postprocess`` (crop, clamp, round, copy back).

torch and CompressAI are imported only when a learned codec is used.
"""

from gcbench.codecs.learned.bits import bits_from_likelihoods, bits_map_from_likelihoods, strings_payload_bytes
from gcbench.codecs.learned.checkpoints import load_checked, read_state_dict
from gcbench.codecs.learned.codec import LearnedCodec
from gcbench.codecs.learned.flags import with_learned_flags
from gcbench.codecs.learned.model import ModelCodec
from gcbench.codecs.learned.padding import pad_amounts, pad_tensor
from gcbench.codecs.learned.plugin import PluginCodec
from gcbench.codecs.learned.stagehooks import STAGES, StageHooks
from gcbench.codecs.learned.zoo import ZOO_ARCHITECTURES, CompressAIZooCodec, register_zoo_weights

__all__ = [
    "STAGES",
    "ZOO_ARCHITECTURES",
    "CompressAIZooCodec",
    "LearnedCodec",
    "ModelCodec",
    "PluginCodec",
    "StageHooks",
    "bits_from_likelihoods",
    "bits_map_from_likelihoods",
    "load_checked",
    "pad_amounts",
    "pad_tensor",
    "read_state_dict",
    "register_zoo_weights",
    "strings_payload_bytes",
    "with_learned_flags",
]
