"""Any command-line codec, described by a TOML spec and run as a subprocess.

One spec per codec in ``codecs/``; no Python. A spec (``adapter = "external"``) holds::

    [options]
    timeout = 600            # seconds a program may run before its process group is killed
    pad_to = 1               # pad width and height to a multiple (edge pixels repeated), crop back

    [options.binaries.bpgenc]           # every program the commands run, by a name of your choice
    names = ["bpgenc"]                  # looked up on PATH, in order (default: the name itself)
    version_args = ["-h"]               # the version probe: run once, its output searched with
    version_regex = 'version\\s+(\\S+)'  #   this regex (group 1); default: a generic one
    install = "build libbpg from https://bellard.org/bpg/"   # how to get it (shown when missing)

    [options.params]                    # values for the commands, overridable per run
    effort = 7
    [options.files]                     # like params, but paths that must exist (config files)
    config = "encoder_intra_vtm.cfg"

    [options.encode]
    command = ["{bpgenc}", "-o", "{output}", "-q", "{setting}", "{input}"]
    input = "png"                       # png | ppm | yuv | y4m
    suffix = ".bpg"                     # the bitstream file's name ends so
    chroma = "444"                      # yuv / y4m input: 444 | 420,
    bit_depth = 8                       #   8 or 10 (to 16) bits,
    matrix = "bt709"                    #   bt601 | bt709,
    range = "full"                      #   full | limited

    [options.decode]
    command = ["{bpgdec}", "-o", "{output}", "{input}"]
    output = "png"                      # png | ppm | yuv | y4m (PNG/PPM/Y4M say their own depth;
                                        # yuv takes chroma, bit_depth, matrix, range, default: encode's)

Placeholders: ``{input}``, ``{output}``, ``{width}``, ``{height}`` (the size the program sees,
after padding), ``{image_width}``, ``{image_height}`` (before), ``{setting}`` (encode only; format
specs work: ``{setting:.2f}``), every binary name (its resolved path), every key of ``params`` and
``files``. A whole argument ``"{name}"`` whose value is a list becomes that many arguments (so
``params.extra = []`` with ``"{extra}"`` in a command lets a user add flags without copying it).

Where a program is found, first match wins: option ``binaries.NAME.path`` (``gcbench run
--binary NAME=PATH`` sets it), the environment variable ``GCBENCH_BIN_<NAME>`` (upper case,
other characters as ``_``), then ``names`` on PATH. A relative ``files`` entry is looked for in
the current folder, then in ``cfg/`` or beside each ancestor (up to 4) of the binaries' folder —
where VTM and HM keep theirs.

Each call runs in its own temporary folder (removed afterwards, also on error or timeout), with
that folder as working directory, in a new session whose whole process group is killed on
timeout. A non-zero exit, a missing or empty output and a decoded picture of the wrong size are
each a :class:`CodecError` naming the program, its command line and the tail of what it printed.
``encode`` returns :class:`Encoded` whose ``info`` (stored with the row) holds every binary's
path and version and both command lines, the private folder written as ``$TMP``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import string
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gcbench.codecs import colour
from gcbench.codecs.base import Codec, Encoded
from gcbench.core.availability import OK, Availability
from gcbench.core.errors import CodecError, ConfigError, UnavailableError
from gcbench.core.settings import Setting

INPUT_FORMATS = ("png", "ppm", "yuv", "y4m")
OUTPUT_FORMATS = ("png", "ppm", "yuv", "y4m")
RESERVED = ("input", "output", "width", "height", "image_width", "image_height", "setting")
DEFAULT_TIMEOUT = 600.0
PROBE_TIMEOUT = 30.0
TMP_MARK = "$TMP"  # how the private folder appears in recorded command lines
TAIL_LINES = 15
DEFAULT_VERSION_REGEX = r"(?:version|ver\.)[:\s]*\[?v?(\d[\w.+~\-]*)"
_KNOWN_OPTIONS = {"timeout", "pad_to", "binaries", "params", "files", "encode", "decode"}
_BINARY_KEYS = {"names", "version_args", "version_regex", "install", "path"}
_ENCODE_KEYS = {"command", "input", "suffix", "chroma", "bit_depth", "matrix", "range"}
_DECODE_KEYS = {"command", "output", "chroma", "bit_depth", "matrix", "range"}


def env_var(name: str) -> str:
    """The environment variable that points at binary ``name``: GCBENCH_BIN_<NAME>."""
    return "GCBENCH_BIN_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


@dataclass(frozen=True)
class Binary:
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
            return _check_executable(self.path, f"option binaries.{self.name}.path")
        from_env = os.environ.get(self.env_var, "")
        if from_env:
            return _check_executable(from_env, f"${self.env_var}")
        for candidate in self.names:
            found = shutil.which(candidate)
            if found:
                return os.path.abspath(found), ""
        return None, f"program {' or '.join(self.names)} not found on PATH"


def _check_executable(path: str, origin: str) -> tuple[str | None, str]:
    p = Path(path).expanduser()
    if p.is_file() and os.access(p, os.X_OK):
        return str(p.absolute()), ""
    what = "does not exist" if not p.exists() else "is not an executable file"
    return None, f"{p} ({origin}) {what}"


@dataclass(frozen=True)
class Endpoint:
    """One side (encode or decode): its command and the picture format it exchanges."""

    command: tuple[str, ...]
    fmt: str  # png | ppm | yuv | y4m
    yuv: colour.YuvFormat | None
    suffix: str = ""


# ---------------------------------------------------------------------------------------------
# Version probes, cached per binary file
# ---------------------------------------------------------------------------------------------

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
    version = _run_probe(path, binary)[0]
    with _VERSIONS_LOCK:
        _VERSIONS[key] = version
    return version


def _run_probe(path: str, binary: Binary) -> tuple[str, float]:
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
            _kill_group(proc)
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


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------

def _kill_group(proc: subprocess.Popen[Any]) -> None:
    """Kill the program and everything it started (it leads its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_bytes()[-16384:].decode("utf-8", "replace")
    except OSError:
        return ""
    # progress bars redraw with carriage returns; keep what was last on each line
    rows = [row.rsplit("\r", 1)[-1].rstrip() for row in text.splitlines()]
    rows = [r for r in rows if r]
    return "\n".join("  " + r for r in rows[-lines:])


@dataclass
class _Outcome:
    argv: list[str]
    tmp: Path
    stdout: Path
    stderr: Path
    seconds: float

    def context(self) -> str:
        """Command line and the tail of what the program printed, for error messages."""
        parts = [f"command: {_display(self.argv, self.tmp)}"]
        err, out = _tail(self.stderr), _tail(self.stdout)
        if err:
            parts.append(f"stderr (last lines):\n{err}")
        if out and not err:
            parts.append(f"stdout (last lines):\n{out}")
        if not err and not out:
            parts.append("(it printed nothing)")
        return "\n".join(parts)


def _display(argv: list[str], tmp: Path | None) -> str:
    text = shlex.join(argv)
    if tmp is not None:
        text = text.replace(str(tmp), TMP_MARK)
    return text


def _wait(proc: subprocess.Popen[Any], timeout: float) -> bool:
    """Wait for the program without reaping it; True when it had to be killed at the deadline.

    ``Popen.wait(timeout)`` polls with sleeps of up to 50 ms, which would land in the measured
    time; here the wait blocks and a timer kills the group. The program stays a zombie until
    its whole group has been killed, so its process-group id cannot have been reused by then.
    """
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        _kill_group(proc)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        while True:
            try:
                os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
                break
            except InterruptedError:  # pragma: no cover - retried by Python since PEP 475
                continue
            except ChildProcessError:  # already reaped elsewhere
                break
    finally:
        timer.cancel()
        timer.join()
        _kill_group(proc)  # what it started must not outlive the task
        proc.wait()
    return fired.is_set()


def _run(argv: list[str], tmp: Path, role: str, program: str, timeout: float) -> _Outcome:
    outcome = _Outcome(argv, tmp, tmp / f".{role}.stdout", tmp / f".{role}.stderr", 0.0)
    with open(outcome.stdout, "wb") as out, open(outcome.stderr, "wb") as err:
        t0 = time.perf_counter()
        try:
            # Files, not pipes: a program that fills a pipe nobody reads would hang.
            proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=tmp,
                                    start_new_session=True)
        except OSError as exc:
            raise CodecError(f"{program} could not be started: {exc}\ncommand: {_display(argv, tmp)}") from exc
        timed_out = _wait(proc, timeout)
        outcome.seconds = time.perf_counter() - t0
    if timed_out:
        raise CodecError(f"{program} ({role}) timed out after {timeout:g} s; its process group was killed "
                         f"(raise option timeout if it needs longer)\n{outcome.context()}")
    code = proc.returncode
    if code != 0:
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        raise CodecError(f"{program} ({role}) {how}\n{outcome.context()}")
    return outcome


@contextmanager
def _private_dir(codec: str) -> Iterator[Path]:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", codec)
    path = Path(tempfile.mkdtemp(prefix=f"gcbench-{safe}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Command templates
# ---------------------------------------------------------------------------------------------

class _Formatter(string.Formatter):
    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        if isinstance(key, int) or key not in kwargs:
            valid = ", ".join("{" + k + "}" for k in sorted(kwargs))
            raise ConfigError(f"{self.where}: unknown placeholder {{{key}}}; valid here: {valid}")
        value = kwargs[key]
        if isinstance(value, (list, tuple)):
            raise ConfigError(f"{self.where}: list value {{{key}}} must be a whole argument of its own")
        return value


_WHOLE = re.compile(r"\{([^{}:!]+)\}")


def render(template: tuple[str, ...] | list[str], values: dict[str, Any], where: str) -> list[str]:
    """Fill a command template; a whole-argument placeholder holding a list expands in place."""
    fmt = _Formatter(where)
    argv: list[str] = []
    for part in template:
        m = _WHOLE.fullmatch(part)
        if m and isinstance(values.get(m.group(1)), (list, tuple)):
            argv.extend(str(v) for v in values[m.group(1)])
            continue
        argv.append(fmt.vformat(part, (), values))
    return argv


def _table(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    return raw


def _unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = set(table) - allowed
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {sorted(extra)}; valid: {sorted(allowed)}")


def _padded(size: int, multiple: int) -> int:
    return -(-size // multiple) * multiple


# ---------------------------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------------------------

class ExternalCodec(Codec):
    """A codec made of two programs (or one program run twice) and a TOML spec."""

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        where = f"codec {spec.name!r}"
        opts = _table(spec.options, f"{where} options")
        _unknown(opts, _KNOWN_OPTIONS, f"{where} options")
        try:
            self.timeout = float(opts.get("timeout", DEFAULT_TIMEOUT))
            self.pad_to = int(opts.get("pad_to", 1))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: timeout and pad_to must be numbers ({exc})") from exc
        if self.timeout <= 0 or self.pad_to < 1:
            raise ConfigError(f"{where}: timeout must be positive and pad_to at least 1")
        self.binaries = self._binaries(_table(opts.get("binaries"), f"{where} binaries"), where)
        self.params = dict(_table(opts.get("params"), f"{where} params"))
        self.files = {k: str(v) for k, v in _table(opts.get("files"), f"{where} files").items()}
        for key in list(self.params) + list(self.files):
            if key in RESERVED or key in self.binaries:
                raise ConfigError(f"{where}: parameter {key!r} clashes with a built-in placeholder or a binary name")
        clash = set(self.params) & set(self.files)
        if clash:
            raise ConfigError(f"{where}: {sorted(clash)} given both as params and files")
        encode = _table(opts.get("encode"), f"{where} encode")
        decode = _table(opts.get("decode"), f"{where} decode")
        _unknown(encode, _ENCODE_KEYS, f"{where} encode")
        _unknown(decode, _DECODE_KEYS, f"{where} decode")
        self.encoder = self._endpoint(encode, "input", INPUT_FORMATS, where + " encode", None)
        self.decoder = self._endpoint(decode, "output", OUTPUT_FORMATS, where + " decode", encode)
        self._resolved: dict[str, str] | None = None
        self._check_templates(where)

    # -- spec checking ---------------------------------------------------------------------
    @staticmethod
    def _binaries(table: dict[str, Any], where: str) -> dict[str, Binary]:
        if not table:
            raise ConfigError(f"{where}: no [options.binaries.NAME] table; name the programs the commands run")
        out = {}
        for name, raw in table.items():
            raw = _table(raw, f"{where} binaries.{name}")
            _unknown(raw, _BINARY_KEYS, f"{where} binaries.{name}")
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

    def _endpoint(self, raw: dict[str, Any], key: str, formats: tuple[str, ...], where: str,
                  inherit: dict[str, Any] | None) -> Endpoint:
        command = raw.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise ConfigError(f"{where}: 'command' must be a non-empty list of strings")
        fmt = str(raw.get(key, "png")).lower()
        if fmt not in formats:
            raise ConfigError(f"{where}: {key} must be one of {', '.join(formats)}, got {fmt!r}")
        yuv = None
        if fmt in ("yuv", "y4m"):
            base = {k: v for k, v in (inherit or {}).items() if k in ("chroma", "bit_depth", "matrix", "range")}
            fields = base | {k: raw[k] for k in ("chroma", "bit_depth", "matrix", "range") if k in raw}
            try:
                yuv = colour.YuvFormat(chroma=str(fields.get("chroma", "444")), bit_depth=int(fields.get("bit_depth", 8)),
                                       matrix=str(fields.get("matrix", "bt709")), range=str(fields.get("range", "full")))
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from exc
            if yuv.subsampled and self.pad_to % 2:
                raise ConfigError(f"{where}: 4:2:0 needs even sizes; set option pad_to to 2 (or 8, …)")
        suffix = str(raw.get("suffix", ".bin"))
        if "/" in suffix or os.sep in suffix:
            raise ConfigError(f"{where}: suffix must be a file-name ending, got {suffix!r}")
        return Endpoint(tuple(command), fmt, yuv, suffix)

    def _check_templates(self, where: str) -> None:
        for role, end in (("encode", self.encoder), ("decode", self.decoder)):
            m = _WHOLE.fullmatch(end.command[0])
            if m is None or m.group(1) not in self.binaries:
                raise ConfigError(f"{where} {role}: the command must start with a binary placeholder, one of "
                                  + ", ".join("{" + b + "}" for b in self.binaries))
        if not any("{setting" in part for part in self.encoder.command):
            raise ConfigError(f"{where} encode: the command never uses {{setting}}, so every setting would be the same")
        example = self.spec.settings[0]
        self.command_lines(example, 16, 16)  # raises ConfigError on an unknown placeholder

    # -- binaries and files ----------------------------------------------------------------
    def _locate_all(self) -> tuple[dict[str, str], list[tuple[Binary, str]]]:
        found, missing = {}, []
        for b in self.binaries.values():
            path, why = b.locate()
            if path is None:
                missing.append((b, why))
            else:
                found[b.name] = path
        return found, missing

    def _find_file(self, value: str, binaries: dict[str, str]) -> str | None:
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

    def _resolve_files(self, binaries: dict[str, str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
        """Files found (key → path) and, for each one not found, (why, how to fix)."""
        found, problems = {}, []
        for key, value in self.files.items():
            path = self._find_file(value, binaries)
            if path is None:
                problems.append((f"file {value!r} (option files.{key}) not found in the current folder or near "
                                 "the binaries", f"give its path: --codec-option {self.name}.files.{key}=PATH"))
            else:
                found[key] = path
        return found, problems

    def _missing_text(self, missing: list[tuple[Binary, str]]) -> tuple[str, str]:
        reason = "; ".join(why for _, why in missing)
        installs = list(dict.fromkeys(b.install.rstrip(".") for b, _ in missing if b.install))
        flags = " ".join(f"--binary {b.name}=PATH" for b, _ in missing)
        envs = ", ".join(b.env_var for b, _ in missing)
        hint = "; ".join(installs + [f"or give the paths: {flags} (or set {envs})"])
        return reason, hint

    def available(self) -> Availability:
        found, missing = self._locate_all()
        if missing:
            return Availability(False, *self._missing_text(missing))
        _, problems = self._resolve_files(found)
        if problems:
            return Availability(False, "; ".join(p[0] for p in problems), "; ".join(p[1] for p in problems))
        return OK

    def resolved(self) -> dict[str, str]:
        """Binary name → path, and files key → path; raises UnavailableError when one is missing."""
        if self._resolved is None:
            found, missing = self._locate_all()
            if missing:
                reason, hint = self._missing_text(missing)
                raise UnavailableError(f"codec {self.name!r} cannot run here: {reason}. To fix: {hint}")
            files, problems = self._resolve_files(found)
            if problems:
                raise UnavailableError(f"codec {self.name!r} cannot run here: " + "; ".join(p[0] for p in problems)
                                       + ". To fix: " + "; ".join(p[1] for p in problems))
            self._resolved = found | files
        return self._resolved

    def prepare(self) -> None:
        self.resolved()
        self.versions()

    def versions(self) -> dict[str, str]:
        paths = self.resolved()
        return {name: probe_version(paths[name], b) for name, b in self.binaries.items()}

    def startup_seconds(self, repeats: int = 3) -> dict[str, float]:
        """Median wall time of each binary's version probe: the cost of starting the program,
        which every encode and decode pays once and which a timing table may subtract."""
        paths = self.resolved()
        out = {}
        for name, b in self.binaries.items():
            times = sorted(_run_probe(paths[name], b)[1] for _ in range(max(1, repeats)))
            out[name] = times[len(times) // 2]
        return out

    def provenance(self) -> dict[str, Any]:
        paths = self.resolved()
        versions = self.versions()
        return {
            "binaries": {name: {"path": paths[name], "version": versions[name]} for name in self.binaries},
            "files": {k: paths[k] for k in self.files},
        }

    # -- commands ----------------------------------------------------------------------------
    def _values(self, paths: dict[str, str], tmp: str, coded: tuple[int, int], image: tuple[int, int],
                end: Endpoint, role: str) -> dict[str, Any]:
        in_name, out_name = self._file_names(end, role)
        values: dict[str, Any] = dict(self.params)
        for key, value in self.files.items():
            values[key] = paths.get(key, value)
        for name, b in self.binaries.items():
            values[name] = paths.get(name, b.names[0])
        values.update({
            "input": f"{tmp}/{in_name}",
            "output": f"{tmp}/{out_name}",
            "height": coded[0], "width": coded[1],
            "image_height": image[0], "image_width": image[1],
        })
        return values

    def _file_names(self, end: Endpoint, role: str) -> tuple[str, str]:
        suffix = self.encoder.suffix
        if role == "encode":
            return f"input.{end.fmt}", f"bitstream{suffix}"
        return f"bitstream{suffix}", f"decoded.{end.fmt}"

    def coded_size(self, height: int, width: int) -> tuple[int, int]:
        return _padded(height, self.pad_to), _padded(width, self.pad_to)

    def _encode_argv(self, paths: dict[str, str], tmp: str, setting: Setting, image: tuple[int, int]) -> list[str]:
        values = self._values(paths, tmp, self.coded_size(*image), image, self.encoder, "encode")
        values["setting"] = setting
        return render(self.encoder.command, values, f"codec {self.name!r} encode command")

    def _decode_argv(self, paths: dict[str, str], tmp: str, image: tuple[int, int]) -> list[str]:
        values = self._values(paths, tmp, self.coded_size(*image), image, self.decoder, "decode")
        return render(self.decoder.command, values, f"codec {self.name!r} decode command")

    def command_lines(self, setting: Setting, height: int, width: int, tmp: str = TMP_MARK) -> dict[str, list[str]]:
        """The encode and decode argv for one image size and setting, without running anything.
        Binaries and files that cannot be found appear under their spec names."""
        paths = self._resolved if self._resolved is not None else self._best_effort_paths()
        image = (height, width)
        return {"encode": self._encode_argv(paths, tmp, setting, image), "decode": self._decode_argv(paths, tmp, image)}

    def _best_effort_paths(self) -> dict[str, str]:
        found, _ = self._locate_all()
        files, _ = self._resolve_files(found)
        return found | files

    # -- encode / decode ---------------------------------------------------------------------
    def _program(self, end: Endpoint) -> str:
        m = _WHOLE.fullmatch(end.command[0])
        assert m is not None  # checked in __init__
        return m.group(1)

    def _write_input(self, image: np.ndarray, path: Path) -> None:
        fmt = self.encoder.fmt
        if fmt == "png":
            colour.write_png(path, image)
        elif fmt == "ppm":
            colour.write_ppm(path, image)
        else:
            assert self.encoder.yuv is not None
            planes = colour.rgb_to_yuv(image, self.encoder.yuv)
            if fmt == "yuv":
                colour.write_yuv(path, planes, self.encoder.yuv)
            else:
                colour.write_y4m(path, planes, self.encoder.yuv)

    def _read_output(self, path: Path, coded: tuple[int, int]) -> np.ndarray:
        fmt = self.decoder.fmt
        if fmt == "png":
            return colour.read_png(path)
        if fmt == "ppm":
            return colour.read_ppm(path)
        yuv = self.decoder.yuv
        assert yuv is not None
        if fmt == "yuv":
            planes = colour.read_yuv(path, coded[0], coded[1], yuv)
            return colour.yuv_to_rgb(planes, yuv)
        planes, _, fmt_y4m = colour.read_y4m(path, yuv.matrix, yuv.range)
        return colour.yuv_to_rgb(planes, fmt_y4m)

    def encode(self, image: np.ndarray, setting: Setting, side: np.ndarray | None = None) -> Encoded:
        paths = self.resolved()
        size = (int(image.shape[0]), int(image.shape[1]))
        coded = self.coded_size(*size)
        program = self._program(self.encoder)
        with _private_dir(self.name) as tmp:
            padded = image
            if coded != size:
                padded = np.pad(image, ((0, coded[0] - size[0]), (0, coded[1] - size[1]), (0, 0)), mode="edge")
            in_name, out_name = self._file_names(self.encoder, "encode")
            self._write_input(padded, tmp / in_name)
            argv = self._encode_argv(paths, str(tmp), setting, size)
            outcome = _run(argv, tmp, "encode", program, self.timeout)
            out = tmp / out_name
            if not out.is_file():
                raise CodecError(f"{program} (encode) exited with status 0 but wrote no bitstream "
                                 f"({TMP_MARK}/{out_name} is missing)\n{outcome.context()}")
            data = out.read_bytes()
            if not data:
                raise CodecError(f"{program} (encode) exited with status 0 but wrote an empty bitstream "
                                 f"({TMP_MARK}/{out_name})\n{outcome.context()}")
            encode_line = _display(argv, tmp)
            decode_line = _display(self._decode_argv(paths, str(tmp), size), tmp)
        info = self.provenance()
        info.update({
            "commands": {"encode": encode_line, "decode": decode_line},
            "encoder_input": self.encoder.yuv.describe() if self.encoder.yuv else self.encoder.fmt.upper(),
            "coded_size": [coded[1], coded[0]],
            "encode_process_s": outcome.seconds,
        })
        return Encoded(data, info=info)

    def decode(self, data: bytes, size: tuple[int, int] | None = None) -> np.ndarray:
        paths = self.resolved()
        if size is None and (self.decoder.fmt == "yuv" or self.pad_to > 1):
            raise CodecError(f"codec {self.name!r} needs the original image size to read its decoder's output")
        program = self._program(self.decoder)
        image = size if size is not None else (0, 0)
        coded = self.coded_size(*image)
        with _private_dir(self.name) as tmp:
            in_name, out_name = self._file_names(self.decoder, "decode")
            (tmp / in_name).write_bytes(data)
            argv = self._decode_argv(paths, str(tmp), image)
            outcome = _run(argv, tmp, "decode", program, self.timeout)
            out = tmp / out_name
            if not out.is_file():
                raise CodecError(f"{program} (decode) exited with status 0 but wrote no decoded image "
                                 f"({TMP_MARK}/{out_name} is missing)\n{outcome.context()}")
            if out.stat().st_size == 0:
                raise CodecError(f"{program} (decode) exited with status 0 but wrote an empty file "
                                 f"({TMP_MARK}/{out_name})\n{outcome.context()}")
            try:
                rgb = self._read_output(out, coded)
            except CodecError as exc:
                raise CodecError(f"{program} (decode) wrote an unusable {self.decoder.fmt.upper()} file: {exc}\n"
                                 f"{outcome.context()}") from exc
            if size is not None and rgb.shape[:2] != coded:
                padded = f" (the {size[1]}×{size[0]} image padded to a multiple of {self.pad_to})" if coded != size else ""
                raise CodecError(f"{program} (decode) wrote a {rgb.shape[1]}×{rgb.shape[0]} image; expected "
                                 f"{coded[1]}×{coded[0]}{padded}\n{outcome.context()}")
        if size is not None:
            rgb = rgb[: size[0], : size[1]]
        return np.ascontiguousarray(rgb)


# ---------------------------------------------------------------------------------------------
# gcbench run --binary NAME=PATH
# ---------------------------------------------------------------------------------------------

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
