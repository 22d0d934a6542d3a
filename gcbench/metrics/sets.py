"""Named metric sets: ``--metric-set jpeg-ai`` runs the objective metrics a test condition lists.

``jpeg-ai``: the objective metrics of JPEG AI's common training and test conditions as its
Objective Quality Assessment Framework (jpeg-ai-qaf) computes them: MS-SSIM, IW-SSIM, VMAF, VIF,
FSIM, NLPD, PSNR-HVS(-M) and Y/U/V PSNR (the framework's summary columns: msssim, psnrY,
psnrU, psnrV, vif, fsim, nlpd, iw_ssim, vmaf, psnrHVS); JPEG AI's call for evidence reported
MS-SSIM, VMAF, VIFp, NLPD, FSIM and IW-SSIM. Each entry runs through the gcbench metric named
below when it can run here; one that cannot is left out with one warning line saying why.
Note where gcbench's implementation differs from the framework's: the framework computes
MS-SSIM, VIF, NLPD, IW-SSIM and PSNR-HVS on the Y of BT.709 Y'CbCr and FSIM on RGB; gcbench's
``ms-ssim`` is on RGB, and pyiqa's VIF and NLPD take the luma of their own colour conversion.

    from gcbench.metrics.sets import expand_metric_set
    names, warnings = expand_metric_set("jpeg-ai")
"""

from __future__ import annotations

from dataclasses import dataclass

from gcbench.core.errors import UnknownNameError


@dataclass(frozen=True)
class SetEntry:
    """One metric a test condition asks for, and the gcbench metric that computes it (if any)."""

    label: str
    metric: str | None  # a gcbench metric name; None: no gcbench metric computes it yet
    missing: str = ""  # why it is missing when ``metric`` is None, and what would provide it


JPEG_AI = (
    SetEntry("MS-SSIM", "ms-ssim"),
    SetEntry("IW-SSIM", None, "no maintained package installed here provides IW-SSIM (pyiqa has none; "
                              "piq's information_weighted_ssim is not wrapped by gcbench yet)"),
    SetEntry("VIF", "pyiqa:vif"),
    SetEntry("FSIM", "pyiqa:fsim"),
    SetEntry("NLPD", "pyiqa:nlpd"),
    SetEntry("PSNR-HVS-M", None, "pyiqa has no PSNR-HVS-M and gcbench wraps no other package for it yet "
                                 "(the framework uses the psnr-hvsm package)"),
    SetEntry("VMAF", None, "gcbench has no VMAF metric yet (it needs libvmaf's vmaf program or pyvmaf)"),
    SetEntry("YUV PSNR", "psnr-yuv"),
)

METRIC_SETS: dict[str, tuple[SetEntry, ...]] = {"jpeg-ai": JPEG_AI}


def set_names() -> list[str]:
    """The names ``--metric-set`` accepts."""
    return sorted(METRIC_SETS)


def expand_metric_set(name: str) -> tuple[list[str], list[str]]:
    """The gcbench metrics of set ``name`` that can run here, and one warning line per one that cannot."""
    from gcbench.metrics.registry import metrics

    if name not in METRIC_SETS:
        import difflib

        raise UnknownNameError("metric set", name, difflib.get_close_matches(name, set_names(), n=3), set_names())
    run: list[str] = []
    warnings: list[str] = []
    for entry in METRIC_SETS[name]:
        if entry.metric is None:
            warnings.append(f"metric set {name}: {entry.label} left out: {entry.missing}")
            continue
        try:
            avail = metrics.get(entry.metric).available()
        except Exception as exc:  # noqa: BLE001 - a missing library shows here as a load error
            warnings.append(f"metric set {name}: {entry.label} ({entry.metric}) left out: {exc}")
            continue
        if not avail:
            hint = f"; {avail.hint}" if avail.hint else ""
            warnings.append(f"metric set {name}: {entry.label} ({entry.metric}) left out: {avail.reason}{hint}")
            continue
        run.append(entry.metric)
    return run, warnings
