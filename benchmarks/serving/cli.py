"""``python -m fmnist_edge.benchmarks.serving.cli EXPORT_DIR``: the load test of fmnist-serve."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fmnist_edge.runtime import cliutil

from ..cliargs import add_count, export_parser

PROG = "python -m fmnist_edge.benchmarks.serving.cli"


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the load test."""
    p = export_parser(PROG, "Start fmnist-serve on 127.0.0.1, load it from 1, 8 and 32 concurrent "
                      "clients, then beside a hostile mix, check every answer, and report "
                      "requests/s, latency, where the server's time goes, cold start and memory.")
    add = p.add_argument
    add("--clients", type=cliutil.int_list, default=(1, 8, 32), metavar="N[,N...]",
        help="concurrency levels; the first must be 1 for the gate's ratio (default: 1,8,32)")
    add_count(p, "--requests", 3000, "requests per level, at most")
    add("--seconds", type=cliutil.positive_float, default=20.0,
        help="time per level, at most (default: %(default)s)")
    add_count(p, "--images", 500, "distinct test images the requests cycle through")
    add_count(p, "--cold-starts", 3, "fresh servers timed from start to first answer", minimum=0)
    add("--workload", action="append", choices=("png28", "photo"), default=None,
        help="png28 (28×28 PNGs: HTTP cost) and/or photo (1200×900 JPEGs: decoding cost); "
        "repeat for both (default: both)")
    add("--server-python", default=sys.executable, metavar="PYTHON",
        help="the interpreter fmnist-serve runs under, e.g. a venv with only [serve,litert] "
        "(default: this one)")
    add("--server-arg", action="append", default=[], metavar="ARG",
        help="one more fmnist-serve option, e.g. --server-arg=--threads=4 (repeatable)")
    add("--min-ratio", type=cliutil.positive_float, default=2.0,
        help="gate: each workload's requests/s at the most clients over 1 client (default: %(default)s)")
    add("--no-hostile", action="store_true",
        help="skip the level beside the hostile mix (bombs, a 9 M-pixel PNG, slow senders, idle "
        "connections)")
    add("--max-p99-ms", type=cliutil.positive_float, default=100.0,
        help="gate: the good requests' p99 beside the hostile mix, in ms (default: %(default)g)")
    add("--max-rss-mb", type=cliutil.positive_float, default=300.0,
        help="gate: each server process's peak RSS during the hostile mix, in MB (default: %(default)g)")
    add("--out", default="reports", metavar="DIR", help="serve.json and serve.md go here (default: reports)")
    add("--update-readme", metavar="FILE", default=None,
        help="rewrite the <!-- serve --> block of this file (README.md) with the figures")
    return p


def main(argv: list[str] | None = None) -> int:
    """0 when the gate passed, 1 when it failed, 2 for bad input."""
    args = build_parser().parse_args(argv)
    from .bench import WORKLOADS, LoadConfig
    from .hostile import Mix

    config = LoadConfig(Path(args.export_dir), tuple(args.clients), args.requests, args.seconds,
                        args.images, tuple(args.workload or WORKLOADS), args.server_python,
                        tuple(args.server_arg), args.cold_starts, args.min_ratio,
                        None if args.no_hostile else Mix(), args.max_p99_ms, args.max_rss_mb)
    return cliutil.run(PROG, lambda: _run(config, Path(args.out), args.update_readme, argv))


def _run(config, out: Path, readme: str | None, argv) -> int:
    from fmnist_edge.readme import check_block, replace_block
    from fmnist_edge.reports import write_report

    from .bench import run_load
    from .report import markdown, readme_summary, summary

    if readme:
        check_block(readme, "serve")  # fail before minutes of load, not after
    result = run_load(config, say=lambda line: print(line, flush=True))
    command = "make serve-bench" if readme else " ".join([PROG, *(argv or sys.argv[1:])])
    write_report(out, "serve", result, markdown(result, command))
    if readme:
        replace_block(readme, "serve", f"Written by `{command}`.\n\n" + readme_summary(result))
    print(summary(result))
    return 0 if result["gate"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
