"""``fmnist-sweep``: what each hyperparameter does (ablation) and the best edge model (search)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fmnist_edge.runtime import cliutil
from fmnist_edge.runtime.errors import FmnistError

from ..config import ModelKind

PROG = "fmnist-sweep"


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``fmnist-sweep``."""
    from .space import SPACE
    from .study import BASELINE_SEEDS, Mode

    p = cliutil.ArgumentParser(prog=PROG, description="Sweep hyperparameters on Fashion-MNIST with "
                               "Optuna: one at a time from the tutorial's values (ablation), or a "
                               "joint TPE search inside an edge budget. Trials are scored on the "
                               "5k validation split; the test set is not used.")
    add = p.add_argument
    add("--mode", **cliutil.choice(Mode), default=Mode.ABLATION,
        help="ablation = vary one hyperparameter at a time; search = TPE over all of them with "
        "median pruning (default: ablation)")
    add("--model", **cliutil.choice(ModelKind), default=ModelKind.SEED_CNN,
        help="network to sweep (default: seed-cnn)")
    add("--params", metavar="NAME[,NAME...]", default=None,
        help=f"hyperparameters to vary, from: {', '.join(SPACE)} (default: all that apply to the "
        "model except the regularizers dropout, label_smoothing and erasing; block_filters is "
        "edge-cnn only and replaces filters there)")
    add("--set", action="append", default=[], metavar="NAME=V1,V2|NAME=LOW:HIGH",
        help="replace a hyperparameter's ablation values or search range; repeatable")
    add("--base", action="append", default=[], metavar="NAME=VALUE",
        help="start from VALUE instead of the recipe's (tutorial's) value of NAME; repeatable")
    _add_study_options(p)
    add("--seed", type=cliutil.non_negative_int, default=0, help="training and sampler seed (default: 0)")
    add("--teacher", action="append", default=None, metavar="RUN_DIR",
        help="every trial distills from this trained run (repeatable; see fmnist-train --teacher); "
        "vary teacher_weight to measure what it gives (default: none)")
    add("--baseline-seeds", type=cliutil.positive_int, default=BASELINE_SEEDS, metavar="N",
        help="ablation: train the baseline with N seeds (--seed, --seed + 1, …) so each effect is "
        "set against the seed-to-seed spread; 1 skips that (default: %(default)s)")
    add("--out", default="reports", metavar="DIR", help="report folder (default: %(default)s)")
    add("--data", metavar="DIR", default=None, help="Fashion-MNIST folder (default: the usual lookup)")
    add("--report-only", action="store_true",
        help="write sweep.md/json/png of the study in --storage without training (the same "
        "options the workers ran, so any machine can report a shared study)")
    add("--update-readme", metavar="FILE", default=None,
        help="also write the report's paragraphs into FILE between <!-- NAME:begin/end --> markers")
    add("--readme-block", metavar="NAME", default="sweep",
        help="the marker name for --update-readme, so several sweeps can each keep a block "
        "(default: %(default)s)")
    return p


def _add_study_options(p: argparse.ArgumentParser) -> None:
    """The budget of each trial and of the study, and where the study lives."""
    add = p.add_argument
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
    add("--heartbeat", type=cliutil.positive_float, default=20.0, metavar="SECONDS",
        help="a running trial's heartbeat; one silent for 3 beats (a killed worker) is failed "
        "and, in an ablation, queued again for a live worker (default: %(default)s)")
    add("--max-params", type=cliutil.positive_int, default=None,
        help="skip configurations with more parameters")
    add("--max-macs", type=cliutil.positive_int, default=None,
        help="skip configurations with more multiply-accumulates per image")
    add("--max-int8-kb", type=cliutil.positive_float, default=None,
        help="skip configurations whose int8 TFLite file would exceed this (estimated from parameters)")


def config_from_args(args: argparse.Namespace):
    """The SweepConfig the options describe (bad names, values and ranges: one-line errors)."""
    from . import space as sweep_space
    from .study import Mode, SweepConfig
    from .trial import Budget

    space = dict(sweep_space.SPACE)
    for setting in args.set:
        space = sweep_space.with_setting(space, setting)
    base = dict(sweep_space.base_setting(setting, args.model) for setting in args.base)
    names = sweep_space.parse_names(args.params, args.model)
    if "teacher_weight" in names + tuple(base) and not args.teacher:
        raise FmnistError("teacher_weight needs --teacher RUN_DIR: the trained run(s) to distill from")
    return SweepConfig(Mode(args.mode), args.model, names, space,
                       args.epochs, args.trials, args.storage, args.study, args.workers,
                       Budget(args.max_params, args.max_macs, args.max_int8_kb), args.seed, args.data,
                       base, args.heartbeat, args.baseline_seeds, tuple(args.teacher or ()))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fmnist-sweep``: 0 done, 1 a worker failed, 2 bad input, 130 interrupted."""
    args = build_parser().parse_args(argv)

    def action() -> int:
        from .run import sweep
        from .storage import label

        config = config_from_args(args)
        report = sweep(config, Path(args.out), args.update_readme, args.readme_block,
                       report_only=args.report_only)
        print(f"{PROG}: {len(report['trials'])} finished trials in study {config.study_name} "
              f"({label(config.storage)}); wrote {', '.join(report['files'][:2])} and "
              f"{len(report['files']) - 2} plot(s)")
        return 0

    return cliutil.run(PROG, action)


if __name__ == "__main__":
    sys.exit(main())
