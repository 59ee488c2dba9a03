"""``fmnist-sweep``: what each hyperparameter does (ablation) and the best edge model (search)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from fmnist_edge.runtime import cliutil
from fmnist_edge.runtime.errors import FmnistError

from .config import ModelKind

PROG = "fmnist-sweep"


class WorkerError(FmnistError):
    """A worker process failed (exit 1): the sweep's results may be incomplete."""

    exit_code = 1


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``fmnist-sweep``."""
    from .sweep_space import SPACE

    p = cliutil.ArgumentParser(prog=PROG, description="Sweep hyperparameters on Fashion-MNIST with "
                               "Optuna: one at a time from the tutorial's values (ablation), or a "
                               "joint TPE search inside an edge budget. Trials are scored on the "
                               "5k validation split; the test set is not used.")
    add = p.add_argument
    add("--mode", choices=("ablation", "search"), default="ablation",
        help="ablation = vary one hyperparameter at a time; search = TPE over all of them with "
        "median pruning (default: ablation)")
    add("--model", type=cliutil.enum_choice(ModelKind), default=ModelKind.SEED_CNN,
        metavar=cliutil.enum_metavar(ModelKind), help="network to sweep (default: seed-cnn)")
    add("--params", metavar="NAME[,NAME...]", default=None,
        help=f"hyperparameters to vary, from: {', '.join(SPACE)} (default: all that apply to the "
        "model except the regularizers dropout, label_smoothing and erasing; block_filters is "
        "edge-cnn only and replaces filters there)")
    add("--set", action="append", default=[], metavar="NAME=V1,V2|NAME=LOW:HIGH",
        help="replace a hyperparameter's ablation values or search range; repeatable")
    add("--base", action="append", default=[], metavar="NAME=VALUE",
        help="start from VALUE instead of the recipe's (tutorial's) value of NAME; repeatable")
    add("--epochs", type=cliutil.positive_int, default=3,
        help="epochs per trial: the budget that keeps a sweep short (default: %(default)s)")
    add("--trials", type=cliutil.positive_int, default=30,
        help="search: finished trials to reach, across all workers (default: %(default)s)")
    add("--storage", default="sqlite:///reports/sweep.db", metavar="URL",
        help="Optuna storage URL: SQLite file (default: %(default)s) or e.g. "
        "postgresql://user:pass@host/db so several machines share one study")
    add("--study", default=None, help="study name (default: MODE-MODEL-EPOCHSep)")
    add("--workers", type=cliutil.positive_int, default=1,
        help="worker processes sharing the storage (default: %(default)s)")
    add("--max-params", type=cliutil.positive_int, default=None, help="skip configurations with more parameters")
    add("--max-macs", type=cliutil.positive_int, default=None,
        help="skip configurations with more multiply-accumulates per image")
    add("--max-int8-kb", type=cliutil.positive_float, default=None,
        help="skip configurations whose int8 TFLite file would exceed this (estimated from parameters)")
    add("--seed", type=cliutil.non_negative_int, default=0, help="training and sampler seed (default: 0)")
    add("--out", default="reports", metavar="DIR", help="report folder (default: %(default)s)")
    add("--data", metavar="DIR", default=None, help="Fashion-MNIST folder (default: the usual lookup)")
    add("--update-readme", metavar="FILE", default=None,
        help="also write the report's paragraphs into FILE between <!-- NAME:begin/end --> markers")
    add("--readme-block", metavar="NAME", default="sweep",
        help="the marker name for --update-readme, so several sweeps can each keep a block "
        "(default: %(default)s)")
    add("--worker-config", metavar="FILE", default=None,
        help="internal: run as a worker of a sweep described in FILE")
    return p


def config_from_args(args: argparse.Namespace):
    """The SweepConfig the options describe (bad names, values and ranges: one-line errors)."""
    from . import sweep_space
    from .sweep_study import Mode, SweepConfig
    from .sweep_trial import Budget

    space = dict(sweep_space.SPACE)
    for setting in args.set:
        space = sweep_space.with_setting(space, setting)
    base = dict(sweep_space.base_setting(setting, args.model) for setting in args.base)
    return SweepConfig(Mode(args.mode), args.model, sweep_space.parse_names(args.params, args.model), space,
                       args.epochs, args.trials, args.storage, args.study, args.workers,
                       Budget(args.max_params, args.max_macs, args.max_int8_kb), args.seed, args.data,
                       base)


def run_sweep(config, out: Path, train_fn: Callable | None = None) -> dict:
    """Plan (ablation), run this process and ``workers - 1`` more on the study, write the report."""
    from . import sweep_report
    from .sweep_study import Mode, ablation_plan, enqueue_missing, open_study, pin_base, run_worker
    from .sweep_trial import train_trial

    study = open_study(config)
    pin_base(study, config)
    if config.mode is Mode.ABLATION:
        enqueue_missing(study, ablation_plan(config))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config.to_json(), f)
    workers = start_workers([sys.executable, "-m", "fmnist_edge.train.sweep_cli", "--worker-config",
                             f.name], config.workers - 1)
    try:
        run_worker(config, train_fn or train_trial)
    finally:
        failed = wait_workers(workers)
        Path(f.name).unlink(missing_ok=True)
    report = sweep_report.build(config, open_study(config))
    report["files"] = [str(p) for p in sweep_report.write(report, out)]
    if failed:
        raise WorkerError("; ".join(failed) + f" (finished trials are kept in {config.storage})")
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fmnist-sweep``: 0 done, 1 a worker failed, 2 bad input, 130 interrupted."""
    args = build_parser().parse_args(argv)

    def action() -> int:
        from .sweep_study import SweepConfig, run_worker

        if args.worker_config:
            run_worker(SweepConfig.from_json(json.loads(Path(args.worker_config).read_text())))
            return 0
        config = config_from_args(args)
        if args.update_readme:  # before hours of training, not after
            from fmnist_edge.readme import check_block

            check_block(args.update_readme, args.readme_block)
        report = run_sweep(config, Path(args.out))
        if args.update_readme:
            from fmnist_edge.readme import replace_block

            from .sweep_report import readme_block

            replace_block(args.update_readme, args.readme_block, readme_block(report))
        print(f"{PROG}: {len(report['trials'])} finished trials in study {config.study_name} "
              f"({config.storage}); wrote {', '.join(report['files'][:2])} and "
              f"{len(report['files']) - 2} plot(s)")
        return 0

    return cliutil.run(PROG, action)


if __name__ == "__main__":
    sys.exit(main())
