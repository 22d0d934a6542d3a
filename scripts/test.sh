#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run them (arguments go to pytest).
# Debian programs (codec command-line tools, Chromium) are installed when apt-get is usable;
# gcbench goes into a virtual environment unless one is active (scripts/env.sh).
# The tests need the 24 Kodak images: found in $GCBENCH_DATA/kodak, in gcbench's cache, or
# downloaded once and checked against datasets/kodak.toml (see README, "Set-up").
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
source scripts/env.sh
gcbench_use_env
gcbench_install test
"$PY" -m pytest "$@"
