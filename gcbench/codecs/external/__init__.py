"""Any command-line codec, described by a TOML spec and run as a subprocess.

One module per job: :mod:`~gcbench.codecs.external.codec` (the adapter),
:mod:`~gcbench.codecs.external.commands` (command templates and picture formats),
:mod:`~gcbench.codecs.external.programs` (finding and versioning the programs, ``--binary``),
:mod:`~gcbench.codecs.external.process` (running with a deadline in a process group) and
:mod:`~gcbench.codecs.external.io` (PNG/PPM/YUV/Y4M written and read).

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

from gcbench.codecs.external.codec import ExternalCodec
from gcbench.codecs.external.commands import Endpoint, render
from gcbench.codecs.external.programs import (
    Binary,
    check_binaries_used,
    env_var,
    parse_binary_args,
    probe_version,
    with_binaries,
)

__all__ = [
    "Binary",
    "Endpoint",
    "ExternalCodec",
    "check_binaries_used",
    "env_var",
    "parse_binary_args",
    "probe_version",
    "render",
    "with_binaries",
]
