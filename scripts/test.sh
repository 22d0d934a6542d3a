#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run them.
# Debian programs (codec command-line tools, Chromium) are installed when apt-get is usable.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    mapfile -t pkgs < <(grep -v '^#' scripts/debian-packages.txt | tr -s ' ' '\n' | grep .)
    missing=()
    for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi
python3 -m pip install -q -c constraints.txt torch torchvision
python3 -m pip install -q -c constraints.txt -e '.[test]'
python3 -m pytest "$@"
