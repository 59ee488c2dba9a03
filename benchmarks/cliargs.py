"""The options the benchmark modules' commands share: an export folder, and counts."""

from __future__ import annotations

import argparse

from fmnist_edge.runtime import cliutil

DEFAULT_EXPORT = "artifacts/seed-cnn/export"


def export_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser whose one positional is an export folder (default: the tutorial CNN's)."""
    p = cliutil.ArgumentParser(prog=prog, description=description)
    p.add_argument("export_dir", nargs="?", default=DEFAULT_EXPORT, metavar="EXPORT_DIR",
                   help="export folder with manifest.json (default: %(default)s)")
    return p


def add_count(p: argparse.ArgumentParser, flag: str, default: int, help: str,
              metavar: str = "N", minimum: int = 1) -> None:
    """A whole-number option (at least ``minimum``: 0 or 1), its default shown in ``--help``."""
    kind = cliutil.positive_int if minimum == 1 else cliutil.non_negative_int
    p.add_argument(flag, type=kind, default=default, metavar=metavar,
                   help=f"{help} (default: %(default)s)")
