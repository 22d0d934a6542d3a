"""gcbench datasets: put a named dataset on this machine (download, verify, extract)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``gcbench datasets download``."""
    p = sub.add_parser("datasets", help="download and verify the named datasets", description=__doc__)
    actions = p.add_subparsers(dest="datasets_command", metavar="ACTION", parser_class=type(p))
    actions.required = True
    d = actions.add_parser(
        "download", help="download, verify and extract a named dataset (gcbench ls datasets lists them)",
        description="Download a named dataset into ROOT/NAME with a progress bar; a cut download resumes "
                    "when run again. Every archive is checked against the manifest's size and SHA-256 before "
                    "anything is extracted, and extraction is all or nothing.")
    d.add_argument("name", metavar="NAME", help="dataset name, e.g. kodak, clic2020-test, div2k-valid")
    d.add_argument("--root", metavar="DIR",
                   help="folder that holds the datasets (default: $GCBENCH_DATA, else ~/.cache/gcbench/datasets)")
    d.add_argument("--archives", metavar="DIR",
                   help="folder with archives you downloaded yourself (default: ROOT/downloads)")
    d.add_argument("--keep-archives", action="store_true", help="keep the downloaded archives after extraction")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=main_download)


def main_download(args: argparse.Namespace) -> int:
    """Run ``gcbench datasets download``: one call of :func:`gcbench.data.acquire.download_dataset`."""
    from gcbench.data.acquire import download_dataset

    report = download_dataset(args.name, args.root, archives_from=args.archives,
                              keep_archives=args.keep_archives, progress=not args.quiet)
    print(report.text())
    return 0
