"""The Optuna side of ``fmnist-sweep``: storage, the ablation plan, resuming, trials, workers.

Every trial lives in an Optuna study storage (SQLite by default, any RDB URL Optuna accepts), so a
sweep stopped by Ctrl-C or a killed worker resumes where it was: finished trials are kept and
never run again, interrupted ones (FAIL, or RUNNING without a heartbeat) are queued again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Callable

from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.formats import Choice

from ..config import ModelKind, TrainConfig
from . import space as sweep_space
from . import storage as sweep_storage
from .trial import Budget, model_cost, train_trial

HEARTBEAT_S = 20  # a RUNNING trial without a heartbeat for GRACE_TIMES beats is taken as dead
# three seeds give a spread (n − 1 = 2 degrees of freedom) at a tenth of a 30-trial ablation's cost
BASELINE_SEEDS = 3
GRACE_TIMES = 3


class Mode(Choice):
    """How the sweep explores."""

    ABLATION = "ablation"  # the tutorial's configuration, one hyperparameter changed per trial
    SEARCH = "search"  # TPE over the joint space, median pruning, within the edge budget


@dataclass(frozen=True)
class SweepConfig:
    """Everything a sweep (and each of its worker processes) needs to know."""

    mode: Mode = Mode.ABLATION
    model: ModelKind = ModelKind.SEED_CNN
    names: tuple[str, ...] = sweep_space.parse_names(None)
    space: dict = field(default_factory=lambda: dict(sweep_space.SPACE))
    epochs: int = 3
    trials: int = 30  # search only: finished trials to reach (the ablation runs its whole plan)
    storage: str = "sqlite:///reports/sweep.db"
    study: str | None = None
    workers: int = 1
    budget: Budget = Budget()
    seed: int = 0
    data_dir: str | None = None
    # --base NAME=VALUE: the recipe's values replaced in the starting configuration, so a sweep
    # stays reproducible after the recipe itself has moved on
    base_overrides: dict = field(default_factory=dict)
    # seconds between a running trial's heartbeats; after 3 missed ones (a killed worker) another
    # worker fails the trial and queues its configuration again (ablation)
    heartbeat: float = HEARTBEAT_S
    # ablation: the baseline trained with this many seeds, so each hyperparameter's effect is set
    # against the seed-to-seed spread (2 trials more than one seed, of ~30 in the default plan)
    baseline_seeds: int = BASELINE_SEEDS
    # run folders every trial distills from (its teacher_weight says how much; 0 = not at all)
    teacher: tuple[str, ...] = ()

    @property
    def study_name(self) -> str:
        """The study's name in the storage: mode, model and epochs unless given."""
        return self.study or f"{self.mode.value}-{self.model.value}-{self.epochs}ep"

    def base(self) -> TrainConfig:
        """The starting configuration: the model kind's recipe with the sweep's epoch budget."""
        recipe = TrainConfig(model=self.model, epochs=self.epochs, seed=self.seed,
                             teacher=tuple(self.teacher)).resolved()
        return sweep_space.apply(recipe, self.base_overrides).resolved()

    def to_json(self) -> dict:
        """A JSON form for worker processes."""
        data = dataclasses.asdict(self)
        data.update(mode=self.mode.value, model=self.model.value,
                    space={k: dataclasses.asdict(v) for k, v in self.space.items()})
        return data

    @classmethod
    def from_json(cls, data: dict) -> "SweepConfig":
        """Rebuild a config written by :meth:`to_json`."""
        space = {k: sweep_space.Hyperparameter(**{**v, "values": tuple(v["values"])})
                 for k, v in data["space"].items()}
        return cls(**{**data, "mode": Mode(data["mode"]), "model": ModelKind(data["model"]),
                      "names": tuple(data["names"]), "space": space, "budget": Budget(**data["budget"]),
                      "teacher": tuple(data.get("teacher", ()))})


def open_study(config: SweepConfig, create: bool = True):
    """Create or load the study; a one-line error when the storage cannot be reached.

    ``create=False`` (``--report-only``): only an existing study, and nothing created on the way
    (no SQLite file, no folder, no study).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # heartbeats (how a killed worker's trial is noticed) are marked experimental since Optuna 2.9
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    url = config.storage
    if not create and url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        raise FmnistError(f"no study to report: {url[len('sqlite:///'):]} does not exist "
                          "(run the sweep first, or point --storage at the study's)")
    if url.startswith("sqlite:///") and create:
        try:
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FmnistError(f"cannot open --storage {url}: {exc.strerror or exc}") from None
    try:
        storage = _storage(config, url)
        sampler = optuna.samplers.TPESampler(seed=config.seed) if config.mode is Mode.SEARCH else None
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
        if not create:
            return optuna.load_study(storage=storage, study_name=config.study_name, sampler=sampler,
                                     pruner=pruner)
        return optuna.create_study(storage=storage, study_name=config.study_name, direction="maximize",
                                   sampler=sampler, pruner=pruner, load_if_exists=True)
    except KeyError:  # load_study: no study of that name
        raise FmnistError(f"no study {config.study_name!r} in {sweep_storage.label(url)} (run the "
                          "sweep first, or name it with --study)") from None
    except Exception as exc:  # SQLAlchemy/driver errors: bad URL, unreachable host, missing driver
        raise sweep_storage.open_error(url, exc) from None


def _storage(config: SweepConfig, url: str):
    """Optuna's RDB storage with heartbeats; a dead worker's planned trial is queued again.

    Two machines opening a new PostgreSQL database at once both create Optuna's tables, and the
    slower one failed with a UniqueViolation (seen in the two-process test): it tries again.
    """
    import time

    import optuna
    import sqlalchemy.exc

    kwargs = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(4):
        try:
            return optuna.storages.RDBStorage(
                url, engine_kwargs=kwargs, heartbeat_interval=max(1, round(config.heartbeat)),
                grace_period=max(1, round(config.heartbeat * GRACE_TIMES)),
                heartbeat_stale_trial_callback=_requeue if config.mode is Mode.ABLATION else None)
        except sqlalchemy.exc.IntegrityError:
            if attempt == 3:
                raise
            time.sleep(0.5 * (attempt + 1))


def _requeue(study, trial) -> None:
    """A dead worker's trial (failed by this process only, once): its planned configuration again."""
    plan = {k: trial.user_attrs[k] for k in ("param", "value", "overrides") if k in trial.user_attrs}
    if "overrides" in plan:
        study.enqueue_trial({}, user_attrs=plan)


def pin_base(study, config: SweepConfig, record: bool = True) -> None:
    """Record the study's starting configuration; refuse to mix trials from another one.

    ``record=False`` only checks (a report must describe the base the trials were run from).

    Trials store only what they changed, so a study resumed after the recipe (or ``--base``)
    changed would report old trials against the new base.
    """
    base = config.base().to_json()
    stored = study.user_attrs.get("base")
    if stored is None and record:
        study.set_user_attr("base", base)
    elif stored is not None and stored != base:
        changed = sorted(k for k in base if stored.get(k) != base[k])
        raise FmnistError(f"study {config.study_name} started from another base configuration "
                          f"({', '.join(f'{k}: {stored.get(k)} there, {base[k]} now' for k in changed)}); "
                          "pass --base to match it, or --study NAME for a new study")


def ablation_plan(config: SweepConfig) -> list[dict]:
    """The baseline (once per baseline seed), then one trial per (hyperparameter, value) that
    differs from the baseline."""
    base = config.base()
    plan = [{"param": "baseline", "value": None, "overrides": {}}]
    plan += [{"param": "baseline", "value": None, "overrides": {"seed": base.seed + k}}
             for k in range(1, config.baseline_seeds)]
    for name in config.names:
        h = config.space[name]
        values = sweep_space.epochs_values(config.epochs) if name == "epochs" and \
            h.values == sweep_space.SPACE["epochs"].values else h.values
        current = value_of(base, name)
        plan += [{"param": name, "value": v, "overrides": {name: v}} for v in values if v != current]
    return plan


def value_of(config: TrainConfig, name: str):
    """The plain value of hyperparameter ``name`` in ``config`` (Enums as strings, one dense size)."""
    value = getattr(config, name)
    if name == "dense_units":
        return value[0] if value else None
    if name == "block_filters":
        return "-".join(map(str, value)) if value else None
    if name in sweep_space.SWITCHES:
        return "on" if value else "off"
    return value.value if isinstance(value, Enum) else value


def enqueue_missing(study, plan: list[dict]) -> int:
    """Queue every planned trial that is not finished, running or queued; return how many."""
    import optuna

    optuna.storages.fail_stale_trials(study)
    alive = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
             optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING)
    present = {json.dumps(t.user_attrs.get("overrides"), sort_keys=True)
               for t in study.get_trials(deepcopy=False, states=alive)}
    added = 0
    for item in plan:
        if json.dumps(item["overrides"], sort_keys=True) not in present:
            study.enqueue_trial({}, user_attrs=item)
            added += 1
    return added


def objective(config: SweepConfig, data, train_fn: Callable = train_trial) -> Callable:
    """The function Optuna calls per trial: pick the configuration, check the budget, train."""
    import optuna

    base = config.base()

    def run(trial) -> float:
        if config.mode is Mode.ABLATION:
            if "overrides" not in trial.user_attrs:  # the queue ran dry between two workers
                trial.study.stop()
                trial.set_user_attr("unplanned", True)
                raise optuna.TrialPruned("no planned configuration left")
            overrides = trial.user_attrs["overrides"]
            if _taken(trial, overrides):  # two machines starting at once both queued the plan
                trial.set_user_attr("unplanned", True)
                raise optuna.TrialPruned("another worker has this planned configuration")
        else:
            overrides = {n: _suggest(trial, config.space[n]) for n in config.names
                         if n in sweep_space.SEARCHED}
            trial.set_user_attr("overrides", overrides)
        trial.set_user_attr("worker_pid", os.getpid())  # shows which process ran it
        trial_config = sweep_space.apply(base, overrides)
        try:
            trial_config.validate()  # e.g. a pooling window the edge CNN's 3×3 maps cannot take
        except FmnistError as exc:
            trial.set_user_attr("invalid", str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        trial_config = trial_config.resolved()
        cost = model_cost(trial_config)
        for key, value in cost.items():
            trial.set_user_attr(key, value)
        reason = config.budget.violation(cost)
        if reason:
            trial.set_user_attr("over_budget", reason)
            raise optuna.TrialPruned(reason)
        report = _pruning_report(trial) if config.mode is Mode.SEARCH else None
        outcome = train_fn(trial_config, data, report)
        for key, value in outcome.items():
            trial.set_user_attr(key, value)
        if outcome.get("pruned"):
            raise optuna.TrialPruned("median pruner")
        return outcome["val_accuracy"]

    return run


def _pruning_report(trial) -> Callable[[int, float], bool]:
    def report(epoch: int, accuracy: float) -> bool:
        trial.report(accuracy, epoch)
        return trial.should_prune()

    return report


def _suggest(trial, h: sweep_space.Hyperparameter):
    if h.low is None:
        return trial.suggest_categorical(h.name, list(h.values))
    if h.integer:
        return trial.suggest_int(h.name, int(h.low), int(h.high), log=h.log)
    return trial.suggest_float(h.name, h.low, h.high, log=h.log)


def run_worker(config: SweepConfig, train_fn: Callable = train_trial) -> None:
    """Work the study until the plan is done (ablation) or ``trials`` have trained (search)."""
    import optuna

    from fmnist_edge.runtime.dataset import load_fashion_mnist

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    data = load_fashion_mnist(config.data_dir)
    study = open_study(config)
    if config.mode is Mode.ABLATION:
        _work_the_plan(study, config, objective(config, data, train_fn))
        return
    if _trained(study) < config.trials:
        study.optimize(objective(config, data, train_fn), callbacks=[_stop_after(config.trials)],
                       gc_after_trial=True)


def _taken(trial, overrides: dict) -> bool:
    """Whether an earlier trial of the study has ``overrides`` done, or is running it.

    Two invocations started together each queue the whole plan; the lower trial number keeps a
    configuration and the other copy is skipped, so every planned trial is trained once.
    """
    import optuna

    state, key = optuna.trial.TrialState, json.dumps(overrides, sort_keys=True)
    return any(t.number < trial.number and not t.user_attrs.get("unplanned")
               and json.dumps(t.user_attrs.get("overrides"), sort_keys=True) == key
               for t in trial.study.get_trials(deepcopy=False,
                                               states=(state.COMPLETE, state.PRUNED, state.RUNNING)))


def _work_the_plan(study, config: SweepConfig, run) -> None:
    """Run queued trials; while another worker's trial runs, wait: it finishes, or its heartbeat
    goes stale (a killed worker) and its configuration is queued again and run here.

    The wait ends once the running trials have stayed the same for two grace periods: a live
    worker is then finishing its own trial, and a trial without heartbeats (never stale) cannot
    keep this one waiting forever.
    """
    import time

    import optuna

    state, grace = optuna.trial.TrialState, config.heartbeat * GRACE_TIMES
    seen, since = None, time.monotonic()
    while True:
        optuna.storages.fail_stale_trials(study)  # _requeue runs for each trial failed here
        waiting = len(study.get_trials(deepcopy=False, states=(state.WAITING,)))
        running = {t.number for t in study.get_trials(deepcopy=False, states=(state.RUNNING,))}
        if running != seen:
            seen, since = running, time.monotonic()
        if waiting:
            study.optimize(run, n_trials=waiting, gc_after_trial=True)
        elif running and time.monotonic() - since < 2 * grace:
            time.sleep(min(5.0, config.heartbeat))
        else:
            return


def _trained(study) -> int:
    """Finished trials that trained (over-budget configurations are skipped, not counted)."""
    import optuna

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return sum("over_budget" not in t.user_attrs and "invalid" not in t.user_attrs
               for t in study.get_trials(deepcopy=False, states=finished))


def _stop_after(trials: int):
    """Stop once ``trials`` trained, or after 50× as many attempts (a budget nothing meets)."""
    def callback(study, _trial) -> None:
        if _trained(study) >= trials or len(study.trials) >= 50 * trials:
            study.stop()

    return callback
