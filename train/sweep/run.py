"""``sweep``: what ``fmnist-sweep`` does — this process and its workers on one study, then the report.

Workers are ``python -m fmnist_edge.train.sweep.worker CONFIG.json`` processes on the same
Optuna storage; each takes the next trial the study hands out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from fmnist_edge.runtime.errors import FmnistError

from . import storage as sweep_storage


class WorkerError(FmnistError):
    """A worker process failed (exit 1): the sweep's results may be incomplete."""

    exit_code = 1


def sweep(config, out: Path, readme: str | None = None, block: str = "sweep",
          report_only: bool = False) -> dict:
    """:func:`run_sweep` (or :func:`report_study`), and the report's paragraphs into ``readme``'s
    ``block`` (checked first)."""
    from fmnist_edge.readme import check_block, replace_block

    from .report import readme_block

    if readme:  # before hours of training, not after
        check_block(readme, block)
    report = report_study(config, out) if report_only else run_sweep(config, out)
    if readme:
        replace_block(readme, block, readme_block(report))
    return report


def run_sweep(config, out: Path, train_fn: Callable | None = None) -> dict:
    """Plan (ablation), run this process and ``workers - 1`` more on the study, write the report."""
    from . import report as sweep_report
    from .study import Mode, ablation_plan, enqueue_missing, open_study, pin_base, run_worker
    from .trial import train_trial

    study = open_study(config)
    pin_base(study, config)
    if config.mode is Mode.ABLATION:
        enqueue_missing(study, ablation_plan(config))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config.to_json(), f)
    workers = start_workers([sys.executable, "-m", "fmnist_edge.train.sweep.worker", f.name],
                            config.workers - 1)
    try:
        run_worker(config, train_fn or train_trial)
    finally:
        failed = wait_workers(workers)
        Path(f.name).unlink(missing_ok=True)
    report = sweep_report.build(config, open_study(config))
    report["files"] = [str(p) for p in sweep_report.write(report, out)]
    if failed:
        raise WorkerError("; ".join(failed) + f" (finished trials are kept in {sweep_storage.label(config.storage)})")
    return report


def report_study(config, out: Path) -> dict:
    """The report of a study in any storage, whoever ran it: no trial is started or changed.

    Its options must plan the same study (the same command the workers ran): the report lays
    the trials out against the plan and the base the study recorded.
    """
    from . import report as sweep_report
    from .study import open_study, pin_base

    study = open_study(config, create=False)
    pin_base(study, config, record=False)
    report = sweep_report.build(config, study)
    report["files"] = [str(p) for p in sweep_report.write(report, out)]
    return report


def start_workers(command: list[str], count: int) -> list[tuple[subprocess.Popen, object]]:
    """``count`` worker processes, each writing stderr to an unnamed temporary file.

    A file, not a pipe: nobody reads a pipe until this process's own trials are done, and a worker
    that writes more than the 64 KiB a pipe holds (TensorFlow's warnings, a traceback) would
    stall until then, quietly making ``--workers 2`` one worker.
    """
    workers = []
    for _ in range(count):
        log = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        workers.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log), log))
    return workers


def wait_workers(workers: list) -> list[str]:
    """Wait for every worker; one line per failed worker, with the last error line it wrote."""
    failed = []
    for i, (proc, log) in enumerate(workers, start=2):
        proc.wait()
        log.seek(0)
        lines = [line.strip() for line in log.read().splitlines() if line.strip()]
        log.close()
        if proc.returncode:
            errors = [line for line in lines if "Error" in line or "error:" in line]
            failed.append(f"worker {i} exited {proc.returncode}: {(errors or lines or ['no output'])[-1]}")
    return failed
