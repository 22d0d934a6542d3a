# Sourced by scripts/demo.sh and scripts/test.sh (from the checkout's root): pick the Python
# environment gcbench lives in, and install gcbench there only when something changed.
#
# Inside an active virtual (or conda) environment, that environment is used. Otherwise the
# virtual environment .venv in the checkout is created once and used from then on: Debian and
# Ubuntu refuse `pip install` into the system Python (PEP 668), and a project's packages do not
# belong there anyway. Either way one line says which.
#
# The install is the pinned torch pair first (constraints.txt), so no other package can pull a
# different multi-gigabyte build, then gcbench with an extra. A stamp in the environment holds
# the SHA-256 of pyproject.toml and constraints.txt with each extra installed; while they are
# unchanged pip is not run again (gcbench is installed editable: code changes need no install).

gcbench_use_env() {
    local active
    active=$(python3 -c 'import os, sys; print(sys.prefix if sys.prefix != sys.base_prefix or os.environ.get("CONDA_PREFIX") else "")')
    if [ -n "$active" ]; then
        PY=$(python3 -c 'import sys; print(sys.executable)')
        echo "gcbench: using the active environment $active"
        return
    fi
    PY=.venv/bin/python
    if [ -x "$PY" ]; then
        echo "gcbench: not inside a virtual environment; using the one in .venv"
    else
        echo "gcbench: not inside a virtual environment; creating one in .venv"
        python3 -m venv .venv || {
            echo "gcbench: 'python3 -m venv' failed; on Debian/Ubuntu install it with: apt-get install python3-venv" >&2
            return 1
        }
    fi
}

gcbench_install() {  # $1: the extra to install (all, test)
    local extra=$1 stamp hash
    stamp="$("$PY" -c 'import sys; print(sys.prefix)')/.gcbench-install-stamp"
    hash=$(cat pyproject.toml constraints.txt | "$PY" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
    # "test" includes "all": either stamp line means nothing to install
    if [ -f "$stamp" ] && { grep -qx "$hash $extra" "$stamp" || grep -qx "$hash test" "$stamp"; } \
        && "$PY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("gcbench") is None)'; then
        echo "gcbench: installation up to date (pyproject.toml and constraints.txt unchanged)"
        return
    fi
    "$PY" -m pip install -q -c constraints.txt torch torchvision
    "$PY" -m pip install -q -c constraints.txt -e ".[$extra]"
    { grep -v " $extra\$" "$stamp" 2>/dev/null | grep "^$hash " || true; echo "$hash $extra"; } > "$stamp.new"
    mv "$stamp.new" "$stamp"
}
