"""``python -m fmnist_edge.benchmarks.cold MODEL IMAGE``: where fmnist-predict's first answer goes.

Fresh processes on a VM drift by ±10 % from one minute to the next, so a cold start is compared
only with commands timed in the same rounds: for each ``--python`` (the environment's
fmnist-predict console script, see ``timing.predict_command``), the floor (a script that imports
what fmnist-predict needs of others, numpy, Pillow and its PNG plugin, LiteRT, argparse, json,
hashlib, and prints) and fmnist-predict on IMAGE, each run once per round, round after round.
What lies above the floor is ours. docs/runtime.md (Cold start) has the figures.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from fmnist_edge.runtime import cliutil
from fmnist_edge.runtime.errors import FmnistError

from .timing import predict_command

PROG = "python -m fmnist_edge.benchmarks.cold"

FLOOR = ("import numpy, PIL.Image, PIL.PngImagePlugin, ai_edge_litert.interpreter, argparse, json, "
         "hashlib; print(1)")


def first_line_ms(command: list[str]) -> float:
    """Milliseconds from starting ``command`` to its first line of output (it must exit 0)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    elapsed = (time.perf_counter() - start) * 1000
    _, err = proc.communicate(timeout=120)
    if proc.returncode != 0 or not line:
        raise FmnistError(f"{' '.join(command)} failed: {err.strip()[-200:] or 'no output'}")
    return elapsed


def compare(model: str, image: str, pythons: list[str], runs: int) -> dict[str, float]:
    """Median ms of each command, timed interleaved: one untimed round, then ``runs`` rounds."""
    commands = {}
    for python in pythons:
        commands[f"floor ({python})"] = [python, "-c", FLOOR]
        commands[f"fmnist-predict ({python})"] = predict_command(python, model, image)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(runs + 1):
        for name, command in commands.items():
            elapsed = first_line_ms(command)
            if round_:
                times[name].append(elapsed)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Print the median of each command, ms (TFLite models: the floor imports LiteRT)."""
    p = cliutil.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("model", metavar="MODEL", help="a .tflite file or an export folder")
    p.add_argument("image", metavar="IMAGE", help="one image (or .npy) for fmnist-predict")
    p.add_argument("--python", action="append", metavar="PYTHON",
                   help="an environment's python with fmnist-edge installed; repeat to compare "
                   "(default: this one)")
    p.add_argument("--runs", type=cliutil.positive_int, default=30, metavar="N",
                   help="timed rounds after the untimed one (default: 30)")
    args = p.parse_args(argv)
    return cliutil.run(PROG, lambda: _report(compare(args.model, args.image,
                                                     args.python or [sys.executable], args.runs)))


def _report(medians: dict[str, float]) -> int:
    for name, ms in medians.items():
        print(f"{ms:7.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
