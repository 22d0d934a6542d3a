"""Metric plugins: pixel.py (PSNR, MS-SSIM) and the modules later added beside it."""
