#!/usr/bin/env bash
# Install gcbench (see scripts/env.sh: a virtual environment unless one is active, torch pinned
# first, nothing reinstalled when nothing changed) and run the demo: six classical codecs on the
# bundled sample set. Tables and the RD plot land in results/sample; a short summary is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
gcbench_use_env
gcbench_install all
"$PY" -m gcbench run --codec jpeg --codec webp --codec jpeg2000 --codec avif --codec heic --codec jpegxl \
    --dataset sample --out results/sample --jobs 2
"$PY" - <<'SUMMARY'
from gcbench import summary, per_image

table = summary(per_image("results/sample"))
print(f"\n{'codec':10} {'settings':>8}  {'bpp':>13}  {'PSNR (dB)':>13}")
for codec, rows in table.groupby("codec", sort=True):
    print(f"{codec:10} {len(rows):8d}  {rows.bpp.min():5.3f} – {rows.bpp.max():5.3f}  "
          f"{rows.psnr.min():5.2f} – {rows.psnr.max():5.2f}")
print("\nRD plot: results/sample/rd.png (and rd.svg); every number: results/sample/summary.csv, per_image.csv")
SUMMARY
