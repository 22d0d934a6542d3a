"""The programs a command-line codec runs: how a spec names them, where they are found (option
path, ``GCBENCH_BIN_<NAME>``, PATH), their versions (probed once per file), the config files
beside them, and ``gcbench run --binary NAME=PATH``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gcbench.codecs.external.commands import check_keys, table_of
from gcbench.codecs.external.process import kill_group
from gcbench.core.errors import ConfigError

PROBE_TIMEOUT = 30.0
DEFAULT_VERSION_REGEX = r"(?:version|ver\.)[:\s]*\[?v?(\d[\w.+~\-]*)"
BINARY_KEYS = {"names", "version_args", "version_regex", "install", "path"}


def env_var(name: str) -> str:
    """The environment variable that points at binary ``name``: GCBENCH_BIN_<NAME>."""
    return "GCBENCH_BIN_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


@dataclass(frozen=True)
class Binary:
    """One program of a spec: the names looked for, its version probe, how to install it."""

    name: str
    names: tuple[str, ...]
    version_args: tuple[str, ...]
    version_regex: str
    install: str
    path: str

    @property
    def env_var(self) -> str:
        return env_var(self.name)

    def locate(self) -> tuple[str | None, str]:
        """(absolute path, "") or (None, why not)."""
        if self.path:
            return check_executable(self.path, f"option binaries.{self.name}.path")
        from_env = os.environ.get(self.env_var, "")
        if from_env:
            return check_executable(from_env, f"${self.env_var}")
        for candidate in self.names:
            found = shutil.which(candidate)
            if found:
                return os.path.abspath(found), ""
        return None, f"program {' or '.join(self.names)} not found on PATH"


def check_executable(path: str, origin: str) -> tuple[str | None, str]:
    """(absolute path, "") when ``path`` is an executable file, else (None, why not)."""
    p = Path(path).expanduser()
    if p.is_file() and os.access(p, os.X_OK):
        return str(p.absolute()), ""
    what = "does not exist" if not p.exists() else "is not an executable file"
    return None, f"{p} ({origin}) {what}"


def binaries_from_table(table: dict[str, Any], where: str) -> dict[str, Binary]:
    """The ``[options.binaries.NAME]`` tables of a spec, checked."""
    if not table:
        raise ConfigError(f"{where}: no [options.binaries.NAME] table; name the programs the commands run")
    out = {}
    for name, raw in table.items():
        raw = table_of(raw, f"{where} binaries.{name}")
        check_keys(raw, BINARY_KEYS, f"{where} binaries.{name}")
        names = raw.get("names", [name])
        if isinstance(names, str):
            names = [names]
        out[name] = Binary(
            name=name,
            names=tuple(str(n) for n in names),
            version_args=tuple(str(a) for a in raw.get("version_args", ["--version"])),
            version_regex=str(raw.get("version_regex", DEFAULT_VERSION_REGEX)),
            install=str(raw.get("install", "")),
            path=str(raw.get("path", "") or ""),
        )
        try:
            re.compile(out[name].version_regex)
        except re.error as exc:
            raise ConfigError(f"{where} binaries.{name}: version_regex is not a valid regex: {exc}") from exc
    return out


def find_file(value: str, binaries: dict[str, str]) -> str | None:
    """A config file: as given, else in ``cfg/`` or beside each of the binaries' folders and 4 ancestors."""
    p = Path(value).expanduser()
    if p.is_absolute():
        return str(p) if p.is_file() else None
    if p.is_file():
        return str(p.absolute())
    for exe in binaries.values():
        folder = Path(exe).resolve().parent
        for ancestor in [folder, *list(folder.parents)[:4]]:
            for candidate in (ancestor / "cfg" / p, ancestor / p):
                if candidate.is_file():
                    return str(candidate)
    return None


def missing_text(missing: list[tuple[Binary, str]]) -> tuple[str, str]:
    """(why, how to fix) for programs that were not found."""
    reason = "; ".join(why for _, why in missing)
    installs = list(dict.fromkeys(b.install.rstrip(".") for b, _ in missing if b.install))
    flags = " ".join(f"--binary {b.name}=PATH" for b, _ in missing)
    envs = ", ".join(b.env_var for b, _ in missing)
    hint = "; ".join(installs + [f"or give the paths: {flags} (or set {envs})"])
    return reason, hint


_VERSIONS: dict[tuple[Any, ...], str] = {}
_VERSIONS_LOCK = threading.Lock()


def _probe_key(path: str, binary: Binary) -> tuple[Any, ...]:
    st = os.stat(path)
    return (path, st.st_mtime_ns, st.st_size, binary.version_args, binary.version_regex)


def probe_version(path: str, binary: Binary) -> str:
    """The version string the program prints (cached while the file is unchanged)."""
    key = _probe_key(path, binary)
    with _VERSIONS_LOCK:
        if key in _VERSIONS:
            return _VERSIONS[key]
    version = run_probe(path, binary)[0]
    with _VERSIONS_LOCK:
        _VERSIONS[key] = version
    return version


def run_probe(path: str, binary: Binary) -> tuple[str, float]:
    """Run the version probe once: (version found in its output, seconds it took)."""
    argv = [path, *binary.version_args]
    with tempfile.TemporaryDirectory(prefix="gcbench-probe-") as tmp:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=tmp, start_new_session=True)
        except OSError as exc:
            return f"unknown (version probe failed: {exc})", time.perf_counter() - t0
        try:
            out, _ = proc.communicate(timeout=PROBE_TIMEOUT)
        except BaseException as exc:  # the timeout, or an interrupt: the program is not reaped yet
            kill_group(proc)
            proc.communicate()
            if isinstance(exc, subprocess.TimeoutExpired):
                return f"unknown (version probe timed out after {PROBE_TIMEOUT:g} s)", time.perf_counter() - t0
            raise
        seconds = time.perf_counter() - t0
    text = out.decode("utf-8", "replace")
    m = re.search(binary.version_regex, text, re.IGNORECASE | re.MULTILINE)
    if m:
        return (m.group(1) if m.groups() else m.group(0)).strip(), seconds
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return (first[:200] or "unknown (the version probe printed nothing)"), seconds


def with_binaries(spec: Any, binaries: dict[str, str] | None) -> Any:
    """The spec with option ``binaries.NAME.path`` set for each given program it runs.

    The path becomes part of the spec (so it reaches every worker, local or remote); relative
    paths are made absolute here, where they were typed.
    """
    declared = spec.options.get("binaries") if isinstance(spec.options, dict) else None
    if not binaries or not isinstance(declared, dict):
        return spec
    chosen = {name: {"path": os.path.abspath(os.path.expanduser(path))}
              for name, path in binaries.items() if name in declared}
    return spec.with_options(binaries=chosen) if chosen else spec


def check_binaries_used(binaries: dict[str, str] | None, specs: list[Any]) -> None:
    """A ``--binary`` name that no chosen codec runs is a typo: say which names there are."""
    if not binaries:
        return
    known: set[str] = set()
    for spec in specs:
        declared = spec.options.get("binaries") if isinstance(spec.options, dict) else None
        if isinstance(declared, dict):
            known |= set(declared)
    unknown = sorted(set(binaries) - known)
    if unknown:
        valid = ", ".join(sorted(known)) or "none (no command-line codec is chosen)"
        raise ConfigError(f"--binary {', '.join(unknown)}: no chosen codec runs a program of that name; "
                          f"programs of the chosen codecs: {valid}")


def parse_binary_args(pairs: list[str]) -> dict[str, str]:
    """``["bpgenc=/opt/bpg/bpgenc"]`` → ``{"bpgenc": "/opt/bpg/bpgenc"}``."""
    out: dict[str, str] = {}
    for text in pairs:
        name, sep, path = text.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigError(f"--binary takes NAME=PATH (e.g. bpgenc=/opt/bpg/bpgenc), got {text!r}")
        out[name.strip()] = path.strip()
    return out
