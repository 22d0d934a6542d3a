"""The ``gcbench`` command: parses arguments, calls the library, prints. Nothing else.

The top layer. Each subcommand is a small module in ``gcbench.cli`` with ``add_parser`` and ``run``;
this table lists them. Library errors (GcbenchError) become a message and exit code 2;
a run with failed tasks exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from gcbench import __version__
from gcbench.core.errors import GcbenchError

COMMANDS: dict[str, str] = {
    "run": "gcbench.cli.run",
    "ls": "gcbench.cli.ls",
    "table": "gcbench.cli.table",
    "plot": "gcbench.cli.plot",
    "report": "gcbench.cli.report",
    "bdrate": "gcbench.cli.bdrate",
    "validate": "gcbench.cli.validate",
    "timing": "gcbench.cli.timing",
    "study": "gcbench.cli.study",
    "weights": "gcbench.cli.weights",
    "datasets": "gcbench.cli.datasets",
    "reproduce": "gcbench.cli.reproduce",
}

EXIT_OK, EXIT_FAILURES, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors: exit 2 with the usage line
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``gcbench`` parser with every subcommand of :data:`COMMANDS`."""
    parser = _Parser(
        prog="gcbench",
        description="Rate–distortion–perception benchmarks for generative and classical image codecs.",
    )
    parser.add_argument("--version", action="version", version=f"gcbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, module in COMMANDS.items():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gcbench ARGV``; the exit code (library errors become a message and 2)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = ["gcbench", *argv]
    previous = _terminate_as_interrupt()
    try:
        return int(args.func(args) or 0)
    except GcbenchError as exc:
        print(f"gcbench: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("gcbench: interrupted; finished work is stored, run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _terminate_as_interrupt() -> object:
    """SIGTERM (a scheduler or ``kill``) stops a run like Ctrl-C: the run is marked interrupted."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_interrupt)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
