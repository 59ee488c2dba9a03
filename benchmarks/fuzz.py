"""Malformed model files through ``fmnist-predict``: mutated copies of a real model, one process each.

    python -m fmnist_edge.benchmarks.fuzz artifacts/seed-cnn/export --mutants 300

Each mutant of the export's int8 ``.tflite`` and ``.onnx`` is one of four kinds, in turn: a few
flipped bits, the file cut at a random offset, a run of up to 256 random bytes, or a run of zeros
(fixed seeds, so a run repeats); half the offsets fall in the first or last 4 KiB, where the
formats keep their structure, since weights take most of the bytes. It is saved as a bare file,
with no manifest beside it, and classified by ``fmnist-predict MUTANT image.png --json --top-k 10``
in its own process under a memory limit. Outcomes: *refused* (exit 2 and one line on stderr),
*accepted* (exit 0 and ten finite probabilities that sum to 1), *crashed* (killed by a signal:
SIGSEGV, SIGABRT, SIGBUS, SIGKILL) and *broken* (anything else: a traceback, another exit code, a
malformed answer, a time-out).
"""

from __future__ import annotations

import json
import math
import resource
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from fmnist_edge import readme
from fmnist_edge.runtime import cliutil
from fmnist_edge.runtime import manifest as mf
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.formats import FORMATS, Format, Quantization
from fmnist_edge.tables import markdown_table

from .cliargs import add_count, export_parser

KINDS = ("bit flips", "truncation", "random bytes", "zeroed run")
OUTCOMES = ("refused", "accepted", "crashed", "broken")
PREDICT = [sys.executable, "-m", "fmnist_edge.runtime.predict_cli"]


def _offset(size: int, rng: np.random.Generator) -> int:
    """A byte offset: half of them in the first or last 4 KiB, where both formats keep their
    structure (flatbuffer tables, protobuf graph and node fields), the rest anywhere (weights)."""
    if size > 8192 and rng.random() < 0.5:
        near = int(rng.integers(4096))
        return near if rng.random() < 0.5 else size - 1 - near
    return int(rng.integers(size))


def mutate(data: bytes, kind: str, rng: np.random.Generator) -> bytes:
    """One mutant of ``data``: ``kind`` is one of KINDS."""
    buf = bytearray(data)
    if kind == "bit flips":
        for _ in range(int(rng.integers(1, 9))):
            buf[_offset(len(buf), rng)] ^= 1 << int(rng.integers(8))
    elif kind == "truncation":
        del buf[max(1, _offset(len(buf), rng)):]
    else:
        length = int(rng.integers(1, 257))
        start = min(_offset(len(buf), rng), len(buf) - 1)
        run = rng.integers(0, 256, length, dtype=np.uint8).tobytes() if kind == "random bytes" \
            else bytes(length)
        buf[start:start + length] = run[: len(buf) - start]
    return bytes(buf)


def _limit(memory_mb: int):
    def apply() -> None:  # in the child, before exec: a runaway allocation fails instead of swapping
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    return apply


def judge(proc: subprocess.CompletedProcess | None) -> tuple[str, str]:
    """(outcome, detail) of one fmnist-predict run; ``None`` is a time-out."""
    if proc is None:
        return "broken", "timed out"
    if proc.returncode < 0:
        return "crashed", f"killed by {signal.Signals(-proc.returncode).name}"
    err = proc.stderr.splitlines()
    if proc.returncode == 2:
        ok = len(err) == 1 and err[0].startswith("fmnist-predict: error: ")
        return ("refused", err[0]) if ok else ("broken", f"exit 2 with {len(err)} stderr lines")
    if proc.returncode != 0:
        return "broken", f"exit {proc.returncode}: {(err or ['no stderr'])[-1][:200]}"
    try:
        scores = [g["score"] for g in json.loads(proc.stdout)["top_k"]]
    except (ValueError, KeyError, TypeError):
        return "broken", f"unreadable answer {proc.stdout[:200]!r}"
    good = len(scores) == 10 and all(math.isfinite(s) and s >= 0 for s in scores) \
        and abs(sum(scores) - 1) <= 0.05
    return ("accepted", "") if good else ("broken", f"not probabilities: {scores}")


def run_mutant(path: Path, image: Path, memory_mb: int, timeout: float) -> tuple[str, str]:
    """Classify ``image`` with the model file ``path`` in a fresh process; see :func:`judge`."""
    try:
        proc = subprocess.run([*PREDICT, str(path), str(image), "--json", "--top-k", "10"],
                              capture_output=True, text=True, timeout=timeout,
                              preexec_fn=_limit(memory_mb), cwd=path.parent)
    except subprocess.TimeoutExpired:
        proc = None
    return judge(proc)


def fuzz(export_dir: Path, mutants: int = 300, seed: int = 0, memory_mb: int = 1024,
         workers: int = 2, timeout: float = 120) -> list[dict]:
    """Per format: counts of each outcome, and the mutants that crashed or broke."""
    from PIL import Image

    from fmnist_edge.runtime.dataset import load_fashion_mnist

    manifest = mf.read_manifest(export_dir)
    if manifest is None:
        raise FmnistError(f"{export_dir}: no {mf.MANIFEST}; run fmnist-export first")
    rows = []
    with tempfile.TemporaryDirectory(prefix="fmnist-fuzz-") as tmp:
        image = Path(tmp) / "image.png"
        Image.fromarray(load_fashion_mnist().x_test[0]).save(image)
        for fmt in Format:
            entry = mf.choose_entry(manifest, export_dir, [fmt], Quantization.INT8)
            data = (export_dir / entry["file"]).read_bytes()
            rows.append(_fuzz_one(fmt, data, Path(tmp), image, mutants, seed, memory_mb, workers, timeout))
    return rows


def _fuzz_one(fmt, data, tmp, image, mutants, seed, memory_mb, workers, timeout) -> dict:
    rng = np.random.default_rng([seed, len(fmt)])
    paths = []
    for i in range(mutants):
        path = tmp / f"{fmt}-mutant-{i:04d}{FORMATS[fmt].suffix}"
        path.write_bytes(mutate(data, KINDS[i % len(KINDS)], rng))
        paths.append(path)
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda p: run_mutant(p, image, memory_mb, timeout), paths))
    counts = {outcome: sum(r[0] == outcome for r in results) for outcome in OUTCOMES}
    problems = [{"mutant": i, "kind": KINDS[i % len(KINDS)], "outcome": o, "detail": d}
                for i, (o, d) in enumerate(results) if o in ("crashed", "broken")]
    return {"format": fmt, "tried": mutants, **counts, "problems": problems}


def table(rows: list[dict]) -> str:
    """Markdown table of :func:`fuzz` results, then one line per crashed or broken mutant."""
    lines = [markdown_table(["model", "tried", *OUTCOMES],
                            [[f"int8 {r['format']}", r["tried"], *(r[o] for o in OUTCOMES)]
                             for r in rows])]
    for r in rows:
        lines += [f"- {r['format']} mutant {p['mutant']} ({p['kind']}): {p['outcome']}, {p['detail']}"
                  for p in r["problems"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the fuzz table; exit 1 when any mutant crashed or broke."""
    p = export_parser("python -m fmnist_edge.benchmarks.fuzz",
                      "Mutated model files through fmnist-predict.")
    add_count(p, "--mutants", 300, "mutants per format")
    add_count(p, "--seed", 0, "mutation seed", minimum=0)
    add_count(p, "--memory-mb", 1024, "address-space limit of each fmnist-predict process", "MB")
    add_count(p, "--workers", 2, "fmnist-predict processes at once")
    p.add_argument("--update-readme", metavar="FILE", default=None,
                   help="write the table into FILE's fuzz block (<!-- fuzz:begin --> … end)")
    args = p.parse_args(argv)

    def action() -> int:
        if args.update_readme:  # before minutes of work, not after
            readme.check_block(args.update_readme, "fuzz")
        rows = fuzz(Path(args.export_dir), args.mutants, args.seed, args.memory_mb, args.workers)
        print(table(rows))
        if args.update_readme:
            readme.replace_block(args.update_readme, "fuzz", table(rows))
        return 1 if any(r["crashed"] or r["broken"] for r in rows) else 0
    return cliutil.run(p.prog, action)


if __name__ == "__main__":
    sys.exit(main())
