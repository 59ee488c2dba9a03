"""``fmnist-bench EXPORT_DIR``: accuracy and speed of every exported model against the float model."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fmnist_edge.runtime import cliutil
from fmnist_edge.runtime.formats import Backend
from fmnist_edge.runtime.options import add_model_options

from .plan import Plan

PROG = "fmnist-bench"


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``fmnist-bench``."""
    p = cliutil.ArgumentParser(prog=PROG, description="Benchmark every model of an export folder: "
                               "accuracy, latency, throughput, cold start, size, against the float model.")
    add = p.add_argument
    add("export_dirs", nargs="*", default=["artifacts/seed-cnn/export"], metavar="EXPORT_DIR",
        help="folders with manifest.json, or bare .tflite/.onnx files; several are measured side by "
        "side in the same interleaved rounds, the first being the primary "
        "(default: artifacts/seed-cnn/export)")
    add("--reference", metavar="FILE", default=None,
        help="a bare model file's float reference (.tflite/.onnx) for drop and agreement; without "
        "it a bare file gets its accuracy against the labels only")
    add("--quick", action="store_true", help="fewer rounds and calls: a CI-sized run of about a "
        "minute (the same as --plan quick)")
    add("--plan", **cliutil.choice(Plan), default=Plan.FULL,
        help="full (7 rounds × 2,000 calls, 5 cold starts), quick (3 × 300, 1) or tiny (1 × 30, no "
        "cold start: a smoke run under an emulator) (default: full)")
    add("--images", type=cliutil.positive_int, default=None, metavar="N",
        help="accuracy over the first N test images (default: all 10,000)")
    add("--threads", type=cliutil.int_list, default=(1, 2), metavar="N[,N...]",
        help="engine thread counts to measure (default: 1,2)")
    add("--engine", **cliutil.choice_list(Backend), default=(Backend.AUTO,),
        help="engines to measure each file on: auto = its format's first engine here; any other "
        "is measured beside it on the files of its format, e.g. auto,numpy puts every TFLite file "
        "on the numpy engine too (default: auto)")
    add("--batch", type=cliutil.int_list, default=(1, 256), metavar="N[,N...]",
        help="batch sizes: 1 is timed per call; the largest other one gives throughput (default: 1,256)")
    add("--out", metavar="DIR", default="reports", help="report folder (default: %(default)s)")
    add("--gate", metavar="BASELINE", default=None,
        help="fail (exit 1) when accuracy or a same-run ratio regresses past BASELINE's tolerances")
    add("--no-keras", action="store_true", help="skip the Keras baseline even if TensorFlow is installed")
    add_model_options(p, only=("amx",))
    add("--data", metavar="DIR", default=None, help="Fashion-MNIST folder (default: the usual lookup)")
    add("--merge", action="store_true",
        help="instead of measuring, merge the benchmark.json files given as arguments (one per "
        "device, all of the same export) into OUT/fleet.{json,md,png}")
    add("--max-drop", type=cliutil.non_negative_float, default=0.5, metavar="POINTS",
        help="with --merge: the accuracy drop a device's fastest variant may have (default: %(default)s)")
    add("--remote", metavar="[USER@]HOST[:PORT]", default=None,
        help="benchmark EXPORT_DIR... on this Linux device over SSH (your keys, agent and "
        "~/.ssh/config; never a password): reports come back into OUT/devices/<device name>/")
    add("--ssh-option", action="append", default=[], metavar="OPTION",
        help="with --remote: an ssh -o option, e.g. Port=2222 or StrictHostKeyChecking=yes (repeatable)")
    add("--keep", action="store_true",
        help="with --remote: keep the folder staged on the device (the device venv is always kept)")
    add("--device-name", metavar="NAME", default=None,
        help="the device's name in the report (default: this machine's hostname)")
    add("--update-readme", metavar="FILE", default=None,
        help="also write the headline table into FILE between <!-- bench:begin/end --> markers")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fmnist-bench``: 0 ok, 1 gate failed, 2 bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.merge:
        given = [] if args.export_dirs == parser.get_default("export_dirs") else args.export_dirs

        def merge() -> int:
            from .fleet import publish_fleet

            return publish_fleet([Path(p) for p in given], Path(args.out), args.max_drop)
        return cliutil.run(PROG, merge)

    if args.remote:
        return cliutil.run(PROG, lambda: _remote(args))

    def action() -> int:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TF's C++ info banners
        from .bench import bench
        from .run import BenchConfig

        config = BenchConfig(tuple(Path(d) for d in args.export_dirs),
                             Path(args.reference) if args.reference else None, tuple(args.threads),
                             max(args.batch), Plan.QUICK if args.quick else args.plan,
                             not args.no_keras, args.data, args.amx, args.device_name, args.images,
                             tuple(args.engine))
        return bench(config, Path(args.out), args.gate, args.update_readme)

    return cliutil.run(PROG, action)


def _remote(args: argparse.Namespace) -> int:
    from .remote import RemoteConfig, run_remote

    plan = Plan.QUICK if args.quick else args.plan
    forwarded = ["--plan", plan.value, "--threads", ",".join(map(str, args.threads)),
                 "--batch", ",".join(map(str, args.batch)),
                 "--engine", ",".join(b.value for b in args.engine),
                 *(["--images", str(args.images)] if args.images else [])]
    folder = run_remote(RemoteConfig(args.remote, tuple(Path(d) for d in args.export_dirs),
                                     tuple(forwarded), tuple(args.ssh_option), Path(args.out),
                                     args.device_name, args.keep, data_dir=args.data))
    print(f"{PROG}: the device's reports are in {folder}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
