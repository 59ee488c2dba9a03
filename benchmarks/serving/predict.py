"""fmnist-predict beside the service, from the same interpreter: a folder of photos, and cold start.

Both run fmnist-predict from ``--server-python``'s environment (the TF-free device venv of
``make serve-bench``), as a user runs it on the device:

- a folder of the photo workload's JPEGs (1200×900 phone photos): wall time and the process's
  peak RSS (its VmHWM as it exits), every answer checked against the expected class;
- the first answer for one 28×28 PNG test image: the ``fmnist-predict`` console script's
  process start to its first line of output, the median of ``runs`` after one untimed run
  (which lets Python cache compiled modules); see ``timing.first_answer``.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from fmnist_edge.runtime.errors import FmnistError

from .. import timing


# fmnist-predict's own module as __main__, printing its peak RSS on stderr as it exits. Its
# VmHWM, not wait4's ru_maxrss: that one keeps the forking parent's pages from before the exec
# (this benchmark's 250 MB, holding the dataset, where fmnist-predict itself peaked at 60 MB).
PEAK_PROBE = ("import atexit, runpy, sys\n"
              "def peak():\n"
              "    for line in open('/proc/self/status'):\n"
              "        if line.startswith('VmHWM'):\n"
              "            print('peak-rss-kb', line.split()[1], file=sys.stderr)\n"
              "atexit.register(peak)\n"
              "sys.argv[0] = 'fmnist-predict'\n"
              "runpy.run_module('fmnist_edge.runtime.predict_cli', run_name='__main__')\n")


def folder_run(python: str, model: Path, bodies: list[bytes], expected: list[int],
               labels: list[str]) -> dict:
    """fmnist-predict on a folder of these JPEG bodies: seconds, peak RSS, wrong answers."""
    with tempfile.TemporaryDirectory(prefix="fmnist-photos-") as folder:
        photos = Path(folder, "photos")
        photos.mkdir()
        for i, body in enumerate(bodies):
            (photos / f"photo-{i:04d}.jpg").write_bytes(body)
        start = time.perf_counter()
        proc = subprocess.run([python, "-c", PEAK_PROBE, str(model), str(photos)],
                              capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - start
    peak = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("peak-rss-kb")]
    if proc.returncode != 0 or not peak:
        raise FmnistError(f"fmnist-predict on the photo folder failed: {proc.stderr[-300:]}")
    text = proc.stdout
    answers = [line.split("\t")[1] for line in text.splitlines()]
    wrong = sum(a != labels[e] for a, e in zip(answers, expected)) + abs(len(answers) - len(bodies))
    return {"photos": len(bodies), "seconds": round(seconds, 3),
            "photos_per_s": round(len(bodies) / seconds, 1), "wrong": wrong,
            "peak_rss_mb": round(int(peak[0]) / 1024, 1)}


def first_answer(python: str, model: Path, png: bytes, runs: int = 5) -> dict:
    """Median ms from starting fmnist-predict on one PNG to its first line of output."""
    with tempfile.TemporaryDirectory(prefix="fmnist-cold-") as folder:
        image = Path(folder, "test-image-0.png")
        image.write_bytes(png)
        result = timing.first_answer(str(model), str(image), None, runs, python=python)
    if "error" in result:
        raise FmnistError(f"fmnist-predict did not answer for {image.name}: {result['error']}")
    return {"ms": round(result["ms"], 1), "runs": runs, "all_ms": result["all_ms"],
            "command": Path(timing.predict_command(python)[0]).name}
