"""Exact SSIM and MS-SSIM for batches of images, in float64, fast on the CPU.

Two definitions are reproduced, value for value:

- ``ms_ssim``: pytorch-msssim's ``ms_ssim(x, y, data_range=255)`` - 5 scales with weights
  (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), an 11-tap Gaussian of sigma 1.5 built in float32
  exactly as pytorch-msssim builds it, "valid" filtering (no padding), relu of each scale's
  mean contrast-structure term and of the last scale's mean SSIM, and a 2x2 average pool with
  zero padding (h % 2, w % 2), padding counted in the divisor, between scales.
- ``ssim``: single-scale SSIM as ``skimage.metrics.structural_similarity(gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1)`` computes it: the
  float64 Gaussian scipy builds (truncate 3.5, 11 taps), valid positions, mean per channel,
  then over channels.

Both return one value per image of an (N, C, H, W) batch, on the batch's device.

Why float64: a variance is E[x²] - E[x]², a difference of numbers near 65025 that must be good
to about 1e-4 next to C2 = 58.5. In float32 pytorch-msssim's own result moves by up to ~5e-5 on
Kodak (flat JPEG regions); in float64 the error is ~1e-12, so this module agrees with
pytorch-msssim evaluated in float64 and with scikit-image to far below 1e-6.

Why it is fast: per channel only four planes are filtered, a = x + y, d = x - y, a² and d²
(x², y², xy follow by linearity: 2σxy = (σa² - σd²)/2, σx² + σy² = (σa² + σd²)/2, and the same
for the means), instead of five. Each separable pass is one batched matrix product with a small
banded (Toeplitz) matrix over overlapping blocks of rows (then of columns) that are strided
views, not copies, so BLAS does the filtering. On the CPU the image goes through in strips of
rows whose buffers stay in cache, reused by every strip, scale and (for 8-bit images) call.
8-bit images stay integers until they are filtered: a and d are exact in int16, and each pool
keeps the exact integer sum of 4 pixels instead of their mean (every value 4**level times
pytorch-msssim's, the constants 16**level times: the same ratios, rounding included).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from gcbench.metrics.pixel import SSIM_IMPLEMENTATION as IMPLEMENTATION  # noqa: F401 - re-exported
from gcbench.metrics.precision import full_precision


MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN_SIZE = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03

# Output rows (columns) per block of the banded products: 8 output rows read 18 input rows; the
# best trade measured between redundant multiplications (18 instead of 11) and BLAS efficiency.
_ROW_BLOCK = 8
_COL_BLOCK = 12
# Bytes of float64 planes per strip on the CPU: small enough that a strip's planes and both
# filtered results stay in cache, large enough that per-call overhead stays small. On an
# accelerator a strip is a whole batch of images unless that would take more memory than this.
_STRIP_BYTES = 4 << 20
_DEVICE_STRIP_BYTES = 256 << 20


def msssim_window(size: int = WIN_SIZE, sigma: float = SIGMA) -> torch.Tensor:
    """pytorch-msssim's Gaussian taps, built in float32 by the same operations, as float64."""
    coords = torch.arange(size, dtype=torch.float32)
    coords -= size // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g /= g.sum()
    return g.to(torch.float64)


def skimage_window(sigma: float = SIGMA, truncate: float = 3.5) -> torch.Tensor:
    """scipy.ndimage's Gaussian taps (what skimage's gaussian_weights use), in float64."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _compute_device(device: torch.device) -> torch.device:
    """Where the float64 work runs: MPS has none, so images there are computed on the CPU
    (and their values stay there)."""
    return torch.device("cpu") if device.type == "mps" else device


def _toeplitz(taps: torch.Tensor, block: int) -> torch.Tensor:
    """(block, block + k - 1): row i holds the taps at columns i .. i + k - 1."""
    k = taps.numel()
    t = torch.zeros(block, block + k - 1, dtype=taps.dtype, device=taps.device)
    for i in range(block):
        t[i, i : i + k] = taps
    return t


def _n_blocks(n: int, block: int) -> int:
    """Blocks of ``block`` needed to cover ``n``."""
    return -(-n // block)


class _Workspace:
    """Float64 scratch buffers reused by every strip and every scale of a call.

    A buffer is only ever enlarged; a smaller scale takes a view of its front. Fresh memory is
    zeros, and everything written later is finite, so the padding a product reads (with zero
    taps) never holds NaN: stale values there only reach outputs that are dropped. 8-bit images
    can only write finite values, so their workspace is kept for the thread's next call (see
    _workspace): zeroing and first-touching fresh memory costs about a tenth of a call.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.flat: dict[str, torch.Tensor] = {}

    def get(self, name: str, *shape: int) -> torch.Tensor:
        numel = 1
        for n in shape:
            numel *= n
        buf = self.flat.get(name)
        if buf is None or buf.numel() < numel:
            buf = torch.zeros(numel, dtype=torch.float64, device=self.device)
            self.flat[name] = buf
        return buf[:numel].view(shape)


_cached = threading.local()


def _workspace(device: torch.device, reusable: bool) -> _Workspace:
    """This thread's kept CPU workspace for 8-bit images, else a fresh one (float input may
    hold NaN or inf, which would stay in the padding; accelerators keep no memory idle)."""
    if not reusable or device.type != "cpu":
        return _Workspace(device)
    ws = getattr(_cached, "ws", None)
    if ws is None:
        ws = _cached.ws = _Workspace(device)
    return ws


def _pool_sum(v: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """4 × pytorch-msssim's avg_pool2d(kernel 2, padding (h % 2, w % 2)) over the last two axes.

    The padded zeros count in the divisor and only the leading pad is ever inside a window, so
    an odd side gets one zero row (column) in front. Integers are summed exactly in ``dtype``;
    the division by 4 is left out (see ms_ssim: scaling every value by a power of two changes
    no rounding when the constants are scaled with it).
    """
    h, w = v.shape[-2:]
    if h % 2 or w % 2:
        v = F.pad(v, (w % 2, 0, h % 2, 0))
    v = v.to(dtype)
    s = v[..., 0::2, :] + v[..., 1::2, :]
    return s[..., 0::2] + s[..., 1::2]


def _sum_dtype(bound: int, dtype: torch.dtype) -> torch.dtype:
    """The narrowest type that holds integers up to ``bound`` in magnitude (float64 stays)."""
    if dtype.is_floating_point:
        return dtype
    return torch.int16 if bound <= torch.iinfo(torch.int16).max else torch.int32


class _Strips:
    """One scale's filtering, strip by strip: G*a, G*d, G*a² + 2C2 and G*d² for a run of rows.

    Planes by kind a, d, a² + K, d², where K·(Σ taps)² = 2·C2 puts the constant of the
    contrast-structure denominator into the filtered a² at no cost. The banded products are
    views made once; every strip reuses the same buffers. Along rows, overlapping blocks of
    bh + k - 1 rows every bh rows are ordinary strided matrices for BLAS; along columns, blocks
    of bw + k - 1 columns every bw columns are column-major matrices, and the result comes out
    columns first, (x, kind, y, plane), which the elementwise formula does not mind.
    """

    def __init__(self, shape: torch.Size, taps: torch.Tensor, c2: float, ws: _Workspace) -> None:
        _, p, h, w = shape
        k = taps.numel()
        bh, bw = _ROW_BLOCK, _COL_BLOCK
        self.k, self.w, self.ho, self.wo = k, w, h - k + 1, w - k + 1
        nb_w = _n_blocks(self.wo, bw)
        wp = nb_w * bw + k - 1  # whole column blocks, plus the last block's tail
        budget = _STRIP_BYTES if ws.device.type == "cpu" else _DEVICE_STRIP_BYTES
        rows_fit = budget // (4 * p * wp * 8) - (k - 1)
        self.strip = strip = min(max(rows_fit // bh, 1), _n_blocks(self.ho, bh)) * bh
        nb_h = strip // bh

        self.planes = planes = ws.get("planes", 4, strip + k - 1, p, wp)
        rows = ws.get("rows", 4, strip, p, wp)
        self.both = both = ws.get("both", nb_w * bw, 4, strip, p)
        self.offset = torch.tensor([2.0 * c2 / float(taps.sum()) ** 2, 0.0], dtype=torch.float64, device=ws.device)
        self.offset = self.offset.view(2, 1, 1, 1)

        span, cols = bh + k - 1, p * wp
        self.t_rows = _toeplitz(taps, bh).expand(nb_h, bh, span)
        self.row_products = [
            (planes[i].as_strided((nb_h, span, cols), (bh * cols, cols, 1), planes[i].storage_offset()),
             rows[i].view(nb_h, bh, cols))
            for i in range(4)
        ]
        span, r = bw + k - 1, 4 * strip * p
        self.t_cols = _toeplitz(taps, bw).expand(nb_w, bw, span)
        self.col_view = rows.as_strided((nb_w, span, r), (bw, 1, wp), rows.storage_offset())
        self.col_out = both.view(nb_w, bw, r)

    def filter(self, ad: torch.Tensor, r0: int, n_out: int) -> torch.Tensor:
        """(wo, kind, n_out, P) filtered planes for output rows r0 .. r0 + n_out."""
        n_in = n_out + self.k - 1
        a_d = self.planes[:2, :n_in]
        a_d[..., : self.w].copy_(ad[:, :, r0 : r0 + n_in].transpose(1, 2))
        torch.addcmul(self.offset, a_d, a_d, out=self.planes[2:, :n_in])
        for view, out in self.row_products:
            torch.bmm(self.t_rows, view, out=out)
        torch.bmm(self.t_cols, self.col_view, out=self.col_out)
        return self.both[: self.wo, :, :n_out]


def _scale_stats(
    ad: torch.Tensor, taps: torch.Tensor, c1: float, c2: float, want_ssim: bool, ws: _Workspace
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mean contrast-structure (and SSIM) per plane, at one scale.

    ``ad``: (2, P, H, W), a = x + y and d = x - y (exact: integers or float64). With a, d and
    their squares filtered by G:
        σa² = G*a² - (G*a)²,  σd² = G*d² - (G*d)²
        cs   = (2σxy + C2) / (σx² + σy² + C2) = 1 - 2σd² / (σa² + σd² + 2C2)
        l    = (2μxμy + C1) / (μx² + μy² + C1) = 1 - 2μd² / (μa² + μd² + 2C1)
    """
    strips = _Strips(ad.shape, taps, c2, ws)
    p, strip, wo = ad.shape[1], strips.strip, strips.wo
    sig_buf = ws.get("sig", wo, 2, strip, p)
    q_buf = ws.get("q", wo, strip, p)
    cs_sum = torch.zeros(p, dtype=torch.float64, device=ad.device)
    ss_sum = torch.zeros_like(cs_sum) if want_ssim else None
    for r0 in range(0, strips.ho, strip):
        n_out = min(strip, strips.ho - r0)
        g = strips.filter(ad, r0, n_out)  # G*a, G*d, G*a² + 2C2, G*d²
        sig, q_cs = sig_buf[:, :, :n_out], q_buf[:, :n_out]
        mu = g[:, :2]
        torch.addcmul(g[:, 2:], mu, mu, value=-1.0, out=sig)  # σa² + 2C2, σd²
        torch.add(sig[:, 0], sig[:, 1], out=q_cs)
        torch.div(sig[:, 1], q_cs, out=q_cs)  # cs = 1 - 2 q_cs
        sum_cs = q_cs.sum((0, 1))
        cs_sum += sum_cs
        if ss_sum is not None:
            mu2 = mu * mu
            q_l = torch.add(mu2[:, 0], mu2[:, 1]).add_(2.0 * c1)
            q_l = torch.div(mu2[:, 1], q_l, out=q_l)  # l = 1 - 2 q_l
            # l·cs = 1 - 2 q_l - 2 q_cs + 4 q_l q_cs
            ss_sum += q_l.sum((0, 1)) + sum_cs - 2.0 * (q_l * q_cs).sum((0, 1))
    n = float(strips.ho * wo)
    cs = 1.0 - 2.0 * cs_sum / n
    return cs, (1.0 - 2.0 * ss_sum / n if ss_sum is not None else None)


def _prepare(x: torch.Tensor, y: torch.Tensor, min_side: int) -> tuple[torch.Tensor, int]:
    """(N, C, H, W) images → (2, N·C, H, W): a = x + y and d = x - y, row-major, exact.

    8-bit images become int16 (|a|, |d| <= 510, the returned bound); anything else is taken in
    float64 (bound 0). Row-major whatever the input layout, so each strip reads whole rows.
    """
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {tuple(x.shape)} and {tuple(y.shape)}")
    if x.dim() != 4:
        raise ValueError(f"expected an (N, C, H, W) batch, got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    if min(h, w) < min_side:
        raise ValueError(f"image {h}×{w} is too small: both sides must be at least {min_side} px")
    dev = _compute_device(x.device)
    if x.dtype in (torch.uint8, torch.int8, torch.bool) and y.dtype == x.dtype:
        dt, bound = torch.int16, 2 * 255
    else:
        dt, bound = torch.float64, 0
    xs = x.to(dev, dt, memory_format=torch.contiguous_format).view(n * c, h, w)
    ys = y.to(dev, dt, memory_format=torch.contiguous_format).view(n * c, h, w)
    ad = torch.empty(2, n * c, h, w, dtype=dt, device=dev)
    torch.add(xs, ys, out=ad[0])
    torch.sub(xs, ys, out=ad[1])
    return ad, bound


def ms_ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 255.0,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    k: tuple[float, float] = (K1, K2),
) -> torch.Tensor:
    """MS-SSIM per image of an (N, C, H, W) batch (any dtype and device), float64, on x's device
    (the CPU for MPS, which has no float64).

    Equal to pytorch-msssim's ``ms_ssim(x, y, data_range, size_average=False)`` computed in
    float64. Both sides must exceed (11 - 1) * 2**(scales - 1) px, as pytorch-msssim requires.
    """
    n, c = x.shape[:2]
    levels = len(weights)
    ad, bound = _prepare(x, y, (WIN_SIZE - 1) * 2 ** (levels - 1) + 1)
    dev = ad.device
    ws = _workspace(dev, reusable=ad.dtype == torch.int16)
    taps = msssim_window().to(dev)
    c1, c2 = (k[0] * data_range) ** 2, (k[1] * data_range) ** 2
    with torch.no_grad(), full_precision(dev):
        per_scale = []
        for level in range(levels):
            # Images at this level are kept as sums of 4**level pixels (exact integers for
            # integer images): values 4**level times pytorch-msssim's, so C1 and C2 scale by
            # 16**level and every ratio, rounding included, is unchanged.
            scale = 16.0**level
            last = level == levels - 1
            cs, ss = _scale_stats(ad, taps, c1 * scale, c2 * scale, last, ws)
            per_scale.append(torch.relu(ss if last else cs))
            if not last:
                # pool(x) ± pool(y) = pool(x ± y): exact sums either way
                bound *= 4
                ad = _pool_sum(ad, _sum_dtype(bound, ad.dtype))
        stacked = torch.stack(per_scale)  # (levels, N*C)
        w = torch.tensor(list(weights), dtype=torch.float64, device=dev).view(-1, 1)
        value = torch.prod(stacked**w, dim=0).view(n, c).mean(1)
    return value


def ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 255.0, k: tuple[float, float] = (K1, K2)
) -> torch.Tensor:
    """Mean SSIM per image of an (N, C, H, W) batch, float64 on x's device.

    Equal to scikit-image's structural_similarity with gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False and channel_axis on C: valid positions, mean per channel,
    then over channels. Both sides must be at least 11 px.
    """
    n, c = x.shape[:2]
    ad, _ = _prepare(x, y, WIN_SIZE)
    dev = ad.device
    taps = skimage_window().to(dev)
    c1, c2 = (k[0] * data_range) ** 2, (k[1] * data_range) ** 2
    with torch.no_grad(), full_precision(dev):
        _, ss = _scale_stats(ad, taps, c1, c2, True, _workspace(dev, reusable=ad.dtype == torch.int16))
        assert ss is not None
        value = ss.view(n, c).mean(1)
    return value
