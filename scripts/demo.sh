#!/usr/bin/env bash
# Install gcbench (torch pinned first, so nothing pulls another build) and run the demo:
# four classical codecs on the bundled sample set; tables and the RD plot land in results/sample.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -c constraints.txt torch torchvision
python3 -m pip install -q -c constraints.txt -e '.[all]'
python3 -m gcbench run --codec jpeg --codec webp --codec jpeg2000 --codec avif --codec heic --codec jpegxl \
    --dataset sample --out results/sample --jobs 2
python3 -m gcbench table results/sample
