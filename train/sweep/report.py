"""reports/sweep.{json,md} and one plot per hyperparameter, written from the study's trials.

The explanation of each hyperparameter is a template; every number in it comes from the trials.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

from fmnist_edge.intervals import accuracy_text, newcombe_unpaired, seeds, t_quantile
from fmnist_edge.metrics import mean_accuracy_ci
from fmnist_edge.reports import write_report
from fmnist_edge.tables import markdown_table

from ..config import ModelKind
from . import space as sweep_space
from . import storage as sweep_storage
from .study import BASELINE_SEEDS, Mode, SweepConfig, value_of


def trial_rows(study) -> list[dict]:
    """One dict per finished trial (complete, or pruned by the tuner or the budget)."""
    import optuna

    rows = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                        optuna.trial.TrialState.PRUNED)):
        if t.user_attrs.get("unplanned"):
            continue
        attrs = dict(t.user_attrs)
        rows.append({"number": t.number, "state": t.state.name.lower(), **attrs,
                     "val_accuracy": attrs.get("val_accuracy") if t.value is None else t.value})
    return rows


def build(config: SweepConfig, study) -> dict:
    """The whole report as a dict (sweep.json)."""
    rows = trial_rows(study)
    base = config.base()
    report = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "mode": config.mode.value, "model": config.model.value, "epochs": config.epochs,
              "study": config.study_name, "storage": sweep_storage.label(config.storage), "workers": config.workers,
              "budget": dataclasses.asdict(config.budget), "base": base.to_json(),
              "scored_on": "the fixed 5,000-image validation split (the test set is not used)",
              "command": command(config),
              "trials": rows}
    if config.mode is Mode.ABLATION:
        label = base_label(config)
        report["hyperparameters"] = {n: _curve(n, rows, base, label) for n in config.names}
    else:
        done = sorted((r for r in rows if r["state"] == "complete"), key=lambda r: -r["val_accuracy"])
        report["best"] = done[:10]
        report["recommended"] = recommend(done, base.validation_size)
    return report


def recommend(done: list[dict], n: int) -> dict | None:
    """The smallest model among the trials the validation split cannot tell from the best.

    The trials' per-image answers are not kept, so each is compared with the best unpaired
    (Newcombe's interval of the difference, conservative for models scored on the same images).
    """
    if not done:
        return None
    best = done[0]
    tied = [r for r in done if newcombe_unpaired(round(best["val_accuracy"] * n), n,
                                                 round(r["val_accuracy"] * n), n).low <= 0]
    pick = min(tied, key=lambda r: (r["params"], r["macs"], -r["val_accuracy"]))
    return {"trial": pick["number"], "best": best["number"], "within_noise": [r["number"] for r in tied],
            "why": (f"trial {pick['number']} ({pick['params']:,} parameters): the smallest of the "
                    f"{len(tied)} trial(s) whose validation accuracy cannot be told from the best's "
                    f"(trial {best['number']}, {100 * best['val_accuracy']:.2f} %) on these {n:,} images")}


def command(config: SweepConfig) -> str:
    """The fmnist-sweep options that plan this study again (storage and workers aside)."""
    words = [f"fmnist-sweep --mode {config.mode.value} --model {config.model.value} "
             f"--epochs {config.epochs}"]
    if config.names != sweep_space.parse_names(None, config.model):
        words.append(f"--params {','.join(config.names)}")
    for name in config.names:
        h, default = config.space[name], sweep_space.SPACE[name]
        if config.mode is Mode.ABLATION and h.values != default.values:
            words.append(f"--set {name}={','.join(map(str, h.values))}")
        elif config.mode is Mode.SEARCH and (h.low, h.high) != (default.low, default.high):
            words.append(f"--set {name}={h.low}:{h.high}")
    words += [f"--base {k}={v}" for k, v in config.base_overrides.items()]
    words += [f"--teacher {folder}" for folder in config.teacher]
    if config.mode is Mode.SEARCH:
        words.append(f"--trials {config.trials}")
    elif config.baseline_seeds != BASELINE_SEEDS:
        words.append(f"--baseline-seeds {config.baseline_seeds}")
    limits = dataclasses.asdict(config.budget)
    words += [f"--{k.replace('_', '-')} {v}" for k, v in limits.items() if v is not None]
    if config.seed:
        words.append(f"--seed {config.seed}")
    return " ".join(words)


def _curve(name: str, rows: list[dict], base, label: str) -> dict:
    """Validation accuracy, time and size at each value of ``name`` (the baseline at its own)."""
    points = [r for r in rows if r.get("param") == name and r["state"] == "complete"]
    baseline = [r for r in rows if r.get("param") == "baseline" and r["state"] == "complete"]
    tutorial = value_of(base, name)
    points += [{**b, "value": tutorial} for b in baseline]
    order = sweep_space.SPACE[name].values if not sweep_space.SPACE[name].numeric else None
    points.sort(key=lambda r: order.index(r["value"]) if order and r["value"] in order else
                (r["value"] if isinstance(r["value"], (int, float)) else 0))
    keep = ("value", "val_accuracy", "train_accuracy", "seconds", "params", "macs", "curve")
    return {"tutorial_value": tutorial, "base_label": label, "spread": seed_spread(baseline),
            "points": [{k: p.get(k) for k in keep} | {"seed": p.get("overrides", {}).get("seed")}
                       for p in points]}


def seed_spread(baseline: list[dict]) -> dict | None:
    """The baseline's seeds: mean and standard deviation of the validation accuracy, and the
    half-width of the 95 % prediction interval of one more trial, t(k−1)·s·√(1 + 1/k): how far a
    single trial of an unchanged setting may land from the mean by seed alone."""
    if len(baseline) < 2:
        return None
    summary = seeds(b["val_accuracy"] for b in baseline)
    k = len(baseline)
    half = t_quantile(k - 1) * summary.std * (1 + 1 / k) ** 0.5
    return {"seeds": k, "mean": summary.mean, "std": summary.std, "prediction_half_width": half}


def base_label(config: SweepConfig) -> str:
    """What the sweep's starting point is called: the tutorial's or the edge recipe's setting,
    or "base" when ``--base`` replaced part of the recipe."""
    if config.base_overrides:
        return "base"
    return "recipe" if config.model is ModelKind.EDGE_CNN else "tutorial"


def explain(name: str, curve: dict) -> str:
    """One plain-language paragraph: what the knob does, then what this run measured."""
    h = sweep_space.SPACE[name]
    points = [p for p in curve["points"] if p.get("seed") is None]  # the baseline's extra seeds: below
    if not points:
        return f"**{name}** {h.does}. No finished trial yet."
    best = max(points, key=lambda p: p["val_accuracy"])
    worst = min(points, key=lambda p: p["val_accuracy"])
    at = next((p for p in points if p["value"] == curve["tutorial_value"]), None)
    if best["val_accuracy"] == worst["val_accuracy"]:  # a tie: "from x (60) to x (60)" said nothing
        text = (f"**{name}** — {h.does}. Measured here: validation accuracy {100 * best['val_accuracy']:.2f} % "
                f"at every value ({', '.join(str(p['value']) for p in points)})")
    else:
        text = (f"**{name}** — {h.does}. Measured here: validation accuracy from "
                f"{100 * worst['val_accuracy']:.2f} % ({name} = {worst['value']}) to "
                f"{100 * best['val_accuracy']:.2f} % ({name} = {best['value']})")
    if at:
        text += (f"; the {curve['base_label']}'s {curve['tutorial_value']} gave "
                 f"{100 * at['val_accuracy']:.2f} %")
    fast, slow = min(points, key=lambda p: p["seconds"]), max(points, key=lambda p: p["seconds"])
    text += (f". Training took {fast['seconds']:.0f} s ({fast['value']}) to {slow['seconds']:.0f} s "
             f"({slow['value']})")
    sizes = {p["params"] for p in points}
    if len(sizes) > 1:
        text += f", and the model had {min(sizes):,} to {max(sizes):,} parameters"
    return text + ". " + _against_seeds(name, curve)


def _against_seeds(name: str, curve: dict) -> str:
    """Whether the hyperparameter's effect is larger than the baseline's seed-to-seed spread."""
    spread, label = curve.get("spread"), curve["base_label"]
    others = [p for p in curve["points"] if p["value"] != curve["tutorial_value"]]
    if not spread:
        return ("Whether these differences exceed the seed-to-seed spread cannot be told: the "
                f"{label} was trained with one seed (--baseline-seeds).")
    if not others:
        return ""
    half, mean = spread["prediction_half_width"] * 100, spread["mean"] * 100
    beyond = [p for p in others if abs(p["val_accuracy"] * 100 - mean) > half]
    far = max(others, key=lambda p: abs(p["val_accuracy"] * 100 - mean))
    head = (f"Against the seed-to-seed spread at the {label}'s setting ({spread['seeds']} seeds: "
            f"{mean:.2f} % ± {spread['std'] * 100:.2f}, so one trial lands within ±{half:.2f} points "
            "of that mean 95 % of the time by seed alone), ")
    if not beyond:
        return head + (f"no value of {name} is measurably different: the largest, {name} = "
                       f"{far['value']}, is {far['val_accuracy'] * 100 - mean:+.2f} points.")
    shown = ", ".join(f"{p['value']} ({p['val_accuracy'] * 100 - mean:+.2f})" for p in beyond)
    return head + f"{len(beyond)} of {len(others)} values are beyond it: {shown} points."


def markdown(report: dict, plots: dict) -> str:
    """sweep.md: the setting, then per hyperparameter a table, its plot and its paragraph."""
    n = _validation_images(report)
    lines = [f"# fmnist-sweep: {report['mode']} of {report['model']}", "",
             f"{report['epochs']} epochs per trial, scored on {report['scored_on']}; study "
             f"`{report['study']}` in `{report['storage']}`, {len(report['trials'])} finished trials, "
             f"{report['workers']} worker process(es). Created {report['created']}. ± is half the "
             f"95 % Wilson interval of an accuracy on these {n:,} images: a difference between two "
             "settings smaller than that is within this split's noise, before any seed-to-seed spread.", ""]
    if report["mode"] == "ablation":
        for name, curve in report["hyperparameters"].items():
            mark = f" ({curve['base_label']})"
            rows = [[f"{p['value']}{_mark(p, curve, mark)}",
                     _val(p["val_accuracy"], n), f"{100 * (p['train_accuracy'] or 0):.2f}",
                     f"{p['seconds']:.0f}", f"{p['params']:,}", f"{p['macs']:,}"] for p in curve["points"]]
            lines += [f"## {name}", "", explain(name, curve), "",
                      markdown_table(["value", "val accuracy % ±95 %", "train accuracy %", "seconds",
                                      "params", "MACs"], rows)]
            if name in plots:
                lines += ["", f"![{name}]({plots[name].name})"]
            lines.append("")
    else:
        tied = set((report.get("recommended") or {}).get("within_noise", []))
        lines.append(markdown_table(
            ["trial", "val accuracy % ±95 %", "params", "MACs", "int8 KB (est.)", "seconds",
             "within noise of the best", "configuration"],
            [[r["number"], _val(r["val_accuracy"], n), f"{r['params']:,}", f"{r['macs']:,}",
              r["int8_kb_estimate"], f"{r['seconds']:.0f}", "yes" if r["number"] in tied else "",
              _flags(r["overrides"])] for r in report["best"]], "rrrrrrll"))
        if report.get("recommended"):
            lines += ["", f"Recommended: {report['recommended']['why']}."]
    return "\n".join(lines) + "\n"


def _mark(point: dict, curve: dict, mark: str) -> str:
    if point["value"] != curve["tutorial_value"]:
        return ""
    return mark if point.get("seed") is None else f"{mark[:-1]}, seed {point['seed']})"


def _validation_images(report: dict) -> int:
    return int(report["base"].get("validation_size") or 5000)


def _val(accuracy: float, n: int) -> str:
    """``89.52 ±0.85``: a validation accuracy with its Wilson interval on ``n`` images."""
    return accuracy_text(accuracy, mean_accuracy_ci(accuracy, n))


def readme_block(report: dict) -> str:
    """The per-hyperparameter paragraphs (ablation) or the best trials (search), for README.md."""
    md = next((f for f in report.get("files", []) if f.endswith("sweep.md")), "reports/sweep.md")
    head = (f"From `{report['command']}` ({len(report['trials'])} trials, {report['created']}), "
            f"scored on {report['scored_on']}; tables and plots: `{md}`.")
    if report["mode"] == "ablation":
        return "\n\n".join([head, ablation_table(report)]
                           + [explain(n, c) for n, c in report["hyperparameters"].items()])
    return head + "\n\n" + "\n".join(markdown(report, {}).splitlines()[4:])


def ablation_table(report: dict) -> str:
    """Every trial of an ablation in one table: the base's seeds first, then each change with its
    validation accuracy against the base's (the mean of its seeds, so one seed's luck is not
    credited to a lever)."""
    n = _validation_images(report)
    curves = report["hyperparameters"]
    if not curves:
        return ""
    first = next(iter(curves.values()))
    base = [p for p in first["points"] if p["value"] == first["tutorial_value"]]
    mean = seeds(p["val_accuracy"] for p in base).mean if base else None

    def row(label: str, p: dict) -> list:
        change = "–" if mean is None else f"{(p['val_accuracy'] - mean) * 100:+.2f}"
        return [label, _val(p["val_accuracy"], n), change, f"{100 * (p['train_accuracy'] or 0):.2f}",
                f"{p['seconds']:.0f}", f"{p['params']:,}"]

    rows = [row(first["base_label"] + ("" if p.get("seed") is None else f", seed {p['seed']}"), p)
            for p in base]
    rows += [row(f"{name} = {p['value']}", p) for name, curve in curves.items()
             for p in curve["points"] if p["value"] != curve["tutorial_value"]]
    return markdown_table(["trial", "val accuracy % ±95 %", f"vs {first['base_label']} (points)",
                           "train accuracy %", "seconds", "params"], rows, "lrrrrr")


def _flags(overrides: dict) -> str:
    """The overrides as fmnist-train options (24-32-64 → 24,32,64; erasing on → --erasing)."""
    def flag(name: str, value) -> str:
        option = name.replace("_", "-")
        if name in sweep_space.SWITCHES:
            return f"--{option}" if value == "on" else f"--no-{option}"
        return f"--{option} {str(value).replace('-', ',') if name == 'block_filters' else value}"
    return " ".join(flag(k, v) for k, v in overrides.items()) or "(base)"


def write(report: dict, out: Path) -> list[Path]:
    """sweep.json, sweep.md and the per-hyperparameter PNGs, atomically."""
    from .plots import save_curves

    out.mkdir(parents=True, exist_ok=True)
    plots = save_curves(report, out) if report["mode"] == "ablation" else {}
    return [*write_report(out, "sweep", report, markdown(report, plots)), *plots.values()]
