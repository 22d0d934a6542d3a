"""The ``external`` adapter: a codec made of programs, run as subprocesses from a TOML spec
(the spec format is described in :mod:`gcbench.codecs.external`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gcbench.codecs.base import Codec, Encoded
from gcbench.codecs.external.commands import (
    DECODE_KEYS,
    ENCODE_KEYS,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    RESERVED,
    WHOLE,
    Endpoint,
    check_keys,
    endpoint_from_table,
    padded_size,
    render,
    table_of,
)
from gcbench.codecs.external.io import read_output, write_input
from gcbench.codecs.external.process import TMP_MARK, display, private_dir, run
from gcbench.codecs.external.programs import (
    Binary,
    binaries_from_table,
    find_file,
    missing_text,
    probe_version,
    run_probe,
)
from gcbench.core.availability import OK, Availability
from gcbench.core.errors import CodecError, ConfigError, UnavailableError
from gcbench.core.settings import Setting

DEFAULT_TIMEOUT = 600.0
KNOWN_OPTIONS = {"timeout", "pad_to", "binaries", "params", "files", "encode", "decode"}


class ExternalCodec(Codec):
    """A codec made of two programs (or one program run twice) and a TOML spec."""

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        where = f"codec {spec.name!r}"
        opts = table_of(spec.options, f"{where} options")
        check_keys(opts, KNOWN_OPTIONS, f"{where} options")
        try:
            self.timeout = float(opts.get("timeout", DEFAULT_TIMEOUT))
            self.pad_to = int(opts.get("pad_to", 1))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: timeout and pad_to must be numbers ({exc})") from exc
        if self.timeout <= 0 or self.pad_to < 1:
            raise ConfigError(f"{where}: timeout must be positive and pad_to at least 1")
        self.binaries = binaries_from_table(table_of(opts.get("binaries"), f"{where} binaries"), where)
        self.params = dict(table_of(opts.get("params"), f"{where} params"))
        self.files = {k: str(v) for k, v in table_of(opts.get("files"), f"{where} files").items()}
        for key in list(self.params) + list(self.files):
            if key in RESERVED or key in self.binaries:
                raise ConfigError(f"{where}: parameter {key!r} clashes with a built-in placeholder or a binary name")
        clash = set(self.params) & set(self.files)
        if clash:
            raise ConfigError(f"{where}: {sorted(clash)} given both as params and files")
        encode = table_of(opts.get("encode"), f"{where} encode")
        decode = table_of(opts.get("decode"), f"{where} decode")
        check_keys(encode, ENCODE_KEYS, f"{where} encode")
        check_keys(decode, DECODE_KEYS, f"{where} decode")
        self.encoder = endpoint_from_table(encode, "input", INPUT_FORMATS, where + " encode", None, self.pad_to)
        self.decoder = endpoint_from_table(decode, "output", OUTPUT_FORMATS, where + " decode", encode, self.pad_to)
        self._resolved: dict[str, str] | None = None
        self._check_templates(where)

    def _check_templates(self, where: str) -> None:
        for role, end in (("encode", self.encoder), ("decode", self.decoder)):
            m = WHOLE.fullmatch(end.command[0])
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

    def _resolve_files(self, binaries: dict[str, str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
        """Files found (key → path) and, for each one not found, (why, how to fix)."""
        found, problems = {}, []
        for key, value in self.files.items():
            path = find_file(value, binaries)
            if path is None:
                problems.append((f"file {value!r} (option files.{key}) not found in the current folder or near "
                                 "the binaries", f"give its path: --codec-option {self.name}.files.{key}=PATH"))
            else:
                found[key] = path
        return found, problems

    def available(self) -> Availability:
        found, missing = self._locate_all()
        if missing:
            return Availability(False, *missing_text(missing))
        _, problems = self._resolve_files(found)
        if problems:
            return Availability(False, "; ".join(p[0] for p in problems), "; ".join(p[1] for p in problems))
        return OK

    def resolved(self) -> dict[str, str]:
        """Binary name → path, and files key → path; raises UnavailableError when one is missing."""
        if self._resolved is None:
            found, missing = self._locate_all()
            if missing:
                reason, hint = missing_text(missing)
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
            times = sorted(run_probe(paths[name], b)[1] for _ in range(max(1, repeats)))
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
        return padded_size(height, self.pad_to), padded_size(width, self.pad_to)

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
        m = WHOLE.fullmatch(end.command[0])
        assert m is not None  # checked in __init__
        return m.group(1)

    def encode(self, image: np.ndarray, setting: Setting, side: np.ndarray | None = None) -> Encoded:
        paths = self.resolved()
        size = (int(image.shape[0]), int(image.shape[1]))
        coded = self.coded_size(*size)
        program = self._program(self.encoder)
        with private_dir(self.name) as tmp:
            padded = image
            if coded != size:
                padded = np.pad(image, ((0, coded[0] - size[0]), (0, coded[1] - size[1]), (0, 0)), mode="edge")
            in_name, out_name = self._file_names(self.encoder, "encode")
            write_input(padded, tmp / in_name, self.encoder)
            argv = self._encode_argv(paths, str(tmp), setting, size)
            outcome = run(argv, tmp, "encode", program, self.timeout)
            out = tmp / out_name
            if not out.is_file():
                raise CodecError(f"{program} (encode) exited with status 0 but wrote no bitstream "
                                 f"({TMP_MARK}/{out_name} is missing)\n{outcome.context()}")
            data = out.read_bytes()
            if not data:
                raise CodecError(f"{program} (encode) exited with status 0 but wrote an empty bitstream "
                                 f"({TMP_MARK}/{out_name})\n{outcome.context()}")
            encode_line = display(argv, tmp)
            decode_line = display(self._decode_argv(paths, str(tmp), size), tmp)
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
        with private_dir(self.name) as tmp:
            in_name, out_name = self._file_names(self.decoder, "decode")
            (tmp / in_name).write_bytes(data)
            argv = self._decode_argv(paths, str(tmp), image)
            outcome = run(argv, tmp, "decode", program, self.timeout)
            out = tmp / out_name
            if not out.is_file():
                raise CodecError(f"{program} (decode) exited with status 0 but wrote no decoded image "
                                 f"({TMP_MARK}/{out_name} is missing)\n{outcome.context()}")
            if out.stat().st_size == 0:
                raise CodecError(f"{program} (decode) exited with status 0 but wrote an empty file "
                                 f"({TMP_MARK}/{out_name})\n{outcome.context()}")
            try:
                rgb = read_output(out, coded, self.decoder)
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
