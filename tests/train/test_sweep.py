"""fmnist-sweep: the plan, resuming after an interrupt, bad input; (slow) real trials and workers."""

import json
import sqlite3
import sys
import time

import pytest

pytest.importorskip("optuna")
pytest.importorskip("tensorflow")

from fmnist_edge.runtime.errors import FmnistError  # noqa: E402
from fmnist_edge.train.sweep import cli as sweep_cli  # noqa: E402
from fmnist_edge.train.sweep import run as sweep_run  # noqa: E402
from fmnist_edge.train.config import ModelKind  # noqa: E402
from fmnist_edge.train.sweep.study import Mode, SweepConfig, ablation_plan  # noqa: E402


def test_ablation_plan_changes_one_hyperparameter_per_trial():
    plan = ablation_plan(SweepConfig(names=("filters", "activation", "epochs"), epochs=3))
    assert plan[0] == {"param": "baseline", "value": None, "overrides": {}}
    assert [p["overrides"] for p in plan[1:3]] == [{"seed": 1}, {"seed": 2}]  # the spread's seeds
    assert [(p["param"], p["value"]) for p in plan[3:]] == [
        ("filters", 8), ("filters", 16), ("filters", 64), ("filters", 128),
        ("activation", "elu"), ("activation", "tanh"), ("activation", "sigmoid"),
        ("epochs", 1), ("epochs", 6)]  # 32, relu and 3 epochs are the baseline itself


class Interrupt:
    """A stand-in trainer (no Keras fit): records what it was asked, Ctrl-C on call ``stop_at``."""

    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def __call__(self, config, data, report=None):
        self.calls.append((config.filters, config.activation.value))
        if len(self.calls) == self.stop_at:
            raise KeyboardInterrupt
        return {"val_accuracy": 0.5 + config.filters / 1000, "train_accuracy": 0.9, "seconds": 1.0,
                "epochs_run": 1, "curve": [0.5], "pruned": False}


def test_interrupted_sweep_resumes_without_losing_or_repeating_trials(tmp_path):
    config = SweepConfig(names=("filters", "activation"), epochs=1,
                         storage=f"sqlite:///{tmp_path / 'sweep.db'}")
    first = Interrupt(stop_at=3)
    with pytest.raises(KeyboardInterrupt):
        sweep_run.run_sweep(config, tmp_path / "out", first)
    second = Interrupt()
    report = sweep_run.run_sweep(config, tmp_path / "out", second)
    planned = {json.dumps(p["overrides"], sort_keys=True) for p in ablation_plan(config)}
    done = [json.dumps(t["overrides"], sort_keys=True) for t in report["trials"]]
    assert sorted(done) == sorted(planned)  # every planned trial finished exactly once
    assert len(second.calls) == len(planned) - 2  # the two finished before Ctrl-C were kept
    assert first.calls[2] in second.calls  # the interrupted one ran again
    with sqlite3.connect(tmp_path / "sweep.db") as db:
        states = dict(db.execute("select state, count(*) from trials group by state").fetchall())
    assert states == {"COMPLETE": len(planned), "FAIL": 1}
    assert (tmp_path / "out/sweep_filters.png").is_file() and (tmp_path / "out/sweep.md").is_file()
    assert "**filters**" in (tmp_path / "out/sweep.md").read_text()


@pytest.mark.parametrize("argv, fragment", [
    (["--params", "filters,weight_decay"], "unknown hyperparameter weight_decay"),
    (["--set", "filters=64:8"], "empty range"),
    (["--set", "learning_rate="], "empty list"),
    (["--params", "block_filters"], "applies to --model edge-cnn only"),
    (["--model", "edge-cnn", "--set", "block_filters=24-32"], "not three widths like 24-32-64"),
    (["--storage", "sqlite:////proc/no/such/dir/sweep.db"], "cannot open --storage"),
    (["--storage", "postgresql://fmnist@127.0.0.1:1/none"], "no PostgreSQL server answers at 127.0.0.1:1"),
])
def test_bad_input_is_one_line_exit_2(argv, fragment, tmp_path, capsys):
    assert sweep_cli.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fmnist-sweep: error:") and fragment in err, err


def test_missing_readme_block_is_refused_before_any_training(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- sweep:begin -->\n<!-- sweep:end -->\n")
    argv = ["--update-readme", str(readme), "--readme-block", "edge-sweep", "--out", str(tmp_path),
            "--storage", f"sqlite:///{tmp_path / 'sweep.db'}"]
    assert sweep_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no <!-- edge-sweep:begin -->" in err
    assert not (tmp_path / "sweep.db").exists()  # refused before the study was opened


def test_zero_trials_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        sweep_cli.main(["--trials", "0"])
    assert exc.value.code == 2 and "--trials" in capsys.readouterr().err


def test_edge_sweep_varies_block_widths_not_the_seed_filters():
    from fmnist_edge.train.sweep import space as sweep_space

    assert "block_filters" not in sweep_space.parse_names(None)
    names = sweep_space.parse_names(None, ModelKind.EDGE_CNN)
    assert "block_filters" in names and "filters" not in names
    base = SweepConfig(model=ModelKind.EDGE_CNN, names=("block_filters",)).base()
    plan = ablation_plan(SweepConfig(model=ModelKind.EDGE_CNN, names=("block_filters",)))
    assert "-".join(map(str, base.block_filters)) not in [p["value"] for p in plan[1:]]
    wide = sweep_space.apply(base, {"block_filters": "32-32-64"}).resolved()
    assert wide.block_filters == (32, 32, 64) and wide.filters == 32
    narrow = sweep_space.apply(base, {"filters": 8}).resolved()  # --params filters still works
    assert narrow.block_filters == (8, 16, 32)


def test_search_config_round_trips_for_workers():
    config = sweep_cli.config_from_args(sweep_cli.build_parser().parse_args(
        ["--mode", "search", "--model", "edge-cnn", "--set", "learning_rate=0.001:0.01",
         "--max-int8-kb", "120"]))
    again = SweepConfig.from_json(json.loads(json.dumps(config.to_json())))
    assert again == config and again.mode is Mode.SEARCH and again.budget.max_int8_kb == 120


@pytest.mark.slow
def test_quick_real_ablation_with_two_workers(tmp_path):
    """Real trials on the real data: two worker processes share one SQLite study."""
    out = tmp_path / "reports"
    argv = ["--params", "kernel_size,activation", "--set", "activation=relu,sigmoid", "--epochs", "1",
            "--workers", "2", "--storage", f"sqlite:///{tmp_path / 'sweep.db'}", "--out", str(out)]
    assert sweep_cli.main(argv) == 0
    report = json.loads((out / "sweep.json").read_text())
    assert len(report["trials"]) == 6  # baseline (seeds 0, 1, 2), kernel 5, kernel 7, sigmoid
    assert len({t["worker_pid"] for t in report["trials"]}) == 2
    curve = report["hyperparameters"]["kernel_size"]["points"]
    assert [p["value"] for p in curve] == [3, 3, 3, 5, 7] and all(0.7 < p["val_accuracy"] < 1 for p in curve)
    assert curve[0]["params"] == 542_230 and len({p["params"] for p in curve}) == 3
    for name in ("kernel_size", "activation"):
        assert (out / f"sweep_{name}.png").is_file()
    text = (out / "sweep.md").read_text()
    assert "the tutorial's 3 gave" in text and "scored on the fixed 5,000-image validation split" in text


def test_a_configuration_the_model_cannot_take_is_pruned_not_fatal(tmp_path):
    from fmnist_edge.train.config import ModelKind

    config = SweepConfig(model=ModelKind.EDGE_CNN, names=("pool_size",), epochs=1,
                         storage=f"sqlite:///{tmp_path / 'sweep.db'}")
    trainer = Interrupt()
    report = sweep_run.run_sweep(config, tmp_path / "out", trainer)
    states = {t["overrides"].get("pool_size"): t["state"] for t in report["trials"]}
    assert states == {None: "complete", 1: "complete", 3: "complete", 4: "pruned"}
    assert "window must be 3 or less" in next(t["invalid"] for t in report["trials"] if "invalid" in t)


def test_search_skips_configurations_over_budget_without_counting_them(tmp_path):
    from fmnist_edge.train.config import ModelKind

    config = sweep_cli.config_from_args(sweep_cli.build_parser().parse_args(
        ["--mode", "search", "--model", "edge-cnn", "--params", "filters,dense_units", "--trials", "3",
         "--max-params", "120000", "--storage", f"sqlite:///{tmp_path / 'sweep.db'}"]))
    assert config.model is ModelKind.EDGE_CNN
    trainer = Interrupt()
    report = sweep_run.run_sweep(config, tmp_path / "out", trainer)
    trained = [t for t in report["trials"] if "over_budget" not in t]
    skipped = [t for t in report["trials"] if "over_budget" in t]
    assert len(trained) == len(trainer.calls) == 3
    assert all(t["params"] <= 120_000 for t in trained)
    assert all(t["params"] > 120_000 and "parameters > 120,000" in t["over_budget"] for t in skipped)
    assert {t["overrides"]["filters"] for t in report["trials"]} <= {8, 16, 32, 64, 128}
    text = (tmp_path / "out/sweep.md").read_text()
    assert "| trial | val accuracy % ±95 % |" in text and "Wilson interval" in text


def test_regularizers_are_opt_in_and_parse():
    from fmnist_edge.train.sweep import space as sweep_space
    from fmnist_edge.train.sweep.study import value_of

    assert not set(sweep_space.OPT_IN) & set(sweep_space.parse_names(None))
    assert sweep_space.parse_names("dropout,erasing") == ("dropout", "erasing")
    space = sweep_space.with_setting(dict(sweep_space.SPACE), "dropout=0,0.2")
    assert space["dropout"].values == (0.0, 0.2)
    space = sweep_space.with_setting(space, "erasing=off")
    assert space["erasing"].values == ("off",)
    with pytest.raises(FmnistError, match="must be in"):
        sweep_space.with_setting(space, "label_smoothing=0,1.5")
    with pytest.raises(FmnistError, match="unknown erasing maybe"):
        sweep_space.with_setting(space, "erasing=maybe")
    base = SweepConfig(model=ModelKind.EDGE_CNN, names=("erasing",)).base()
    off = sweep_space.apply(base, {"erasing": "off", "dropout": 0.2}).resolved()
    assert off.erasing is False and off.dropout == 0.2 and value_of(off, "erasing") == "off"


def test_search_report_prints_fmnist_train_options():
    from fmnist_edge.train import cli
    from fmnist_edge.train.sweep.report import _flags

    text = _flags({"block_filters": "16-32-64", "erasing": "off", "dropout": 0.2})
    assert text == "--block-filters 16,32,64 --no-erasing --dropout 0.2"
    args = cli.build_parser().parse_args(["--model", "edge-cnn", *text.split()])
    config = cli.config_from_args(args)
    assert (config.block_filters, config.erasing, config.dropout) == ((16, 32, 64), False, 0.2)
    assert _flags({}) == "(base)"


def test_base_replaces_the_recipe_and_a_study_keeps_its_base(tmp_path, capsys):
    from fmnist_edge.train.sweep.report import command

    argv = ["--model", "edge-cnn", "--epochs", "2", "--params", "block_filters,erasing",
            "--set", "block_filters=16-32-64", "--base", "block_filters=24-32-64",
            "--storage", f"sqlite:///{tmp_path / 'sweep.db'}"]
    config = sweep_cli.config_from_args(sweep_cli.build_parser().parse_args(argv))
    assert config.base().block_filters == (24, 32, 64) and config.base().filters == 24
    assert [p["overrides"] for p in ablation_plan(config)] == [
        {}, {"seed": 1}, {"seed": 2}, {"block_filters": "16-32-64"}, {"erasing": "off"}]
    assert command(config) == ("fmnist-sweep --mode ablation --model edge-cnn --epochs 2 --params "
                               "block_filters,erasing --set block_filters=16-32-64 "
                               "--base block_filters=24-32-64")
    report = sweep_run.run_sweep(config, tmp_path / "out", Interrupt())
    assert report["hyperparameters"]["block_filters"]["base_label"] == "base"
    assert report["command"] == command(config)
    # the same study from the recipe's own base would mix two baselines: refused, one line
    assert sweep_cli.main([a for a in argv if a not in ("--base", "block_filters=24-32-64")]
                          + ["--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "started from another base configuration" in err
    assert "block_filters: [24, 32, 64] there, [32, 32, 64] now" in err, err


@pytest.mark.parametrize("setting, fragment", [
    ("block_filters=16-32-64,24-32-64", "give one value"),
    ("learning_rate=0.001:0.01", "give one value"),
    ("dropouts=0.1", "unknown hyperparameter dropouts"),
    ("block_filters=1-2", "--base block_filters: '1-2' is not three widths"),
    ("erasing=maybe", "--base 'erasing=maybe': unknown erasing maybe"),
])
def test_bad_base_is_one_line_exit_2(setting, fragment, tmp_path, capsys):
    argv = ["--model", "edge-cnn", "--base", setting, "--out", str(tmp_path)]
    assert sweep_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err


def test_search_samples_the_regularizers_it_is_given(tmp_path):
    config = sweep_cli.config_from_args(sweep_cli.build_parser().parse_args(
        ["--mode", "search", "--model", "edge-cnn", "--params", "dropout,label_smoothing,erasing",
         "--trials", "4", "--storage", f"sqlite:///{tmp_path / 'sweep.db'}"]))
    report = sweep_run.run_sweep(config, tmp_path / "out", Interrupt())
    overrides = [t["overrides"] for t in report["trials"]]
    assert len(overrides) == 4 and all(set(o) == {"dropout", "label_smoothing", "erasing"} for o in overrides)
    assert all(0 <= o["dropout"] <= 0.5 and 0 <= o["label_smoothing"] <= 0.2 for o in overrides)
    assert {o["erasing"] for o in overrides} <= {"on", "off"}
    text = (tmp_path / "out/sweep.md").read_text()
    assert "--dropout " in text and ("--erasing" in text or "--no-erasing" in text)


def test_a_chatty_worker_runs_alongside_and_its_last_error_is_reported(tmp_path):
    from fmnist_edge.train.sweep.run import start_workers, wait_workers

    done = tmp_path / "done"
    # 200 KiB of warnings (a pipe holds 64 KiB), then the marker, then a traceback's last line
    code = ("import sys, pathlib\nsys.stderr.write('W tensorflow: chatty\\n' * 10000)\n"
            f"pathlib.Path({str(done)!r}).touch()\n"
            "sys.stderr.write('Traceback (most recent call last):\\nValueError: boom\\n  at the end\\n')\n"
            "sys.exit(1)\n")
    workers = start_workers([sys.executable, "-c", code], 1)
    deadline = time.monotonic() + 30
    while not done.exists() and time.monotonic() < deadline:  # this process's own trials run now
        time.sleep(0.05)
    assert done.exists(), "the worker stalled on a full stderr pipe"
    assert wait_workers(workers) == ["worker 2 exited 1: ValueError: boom"]


def test_the_search_recommends_the_smallest_model_within_the_noise_of_the_best():
    from fmnist_edge.train.sweep.report import recommend

    def trial(number, accuracy, params):
        return {"number": number, "val_accuracy": accuracy, "params": params, "macs": params * 10}
    # on 5,000 images 93.0 vs 92.8 % (10 images) cannot be told apart; 91.0 % can
    done = [trial(1, 0.930, 300_000), trial(2, 0.928, 90_000), trial(3, 0.910, 20_000)]
    picked = recommend(done, 5000)
    assert picked["trial"] == 2 and picked["within_noise"] == [1, 2] and picked["best"] == 1
    assert "the smallest of the 2 trial(s)" in picked["why"]
    done[1] = trial(2, 0.915, 90_000)  # 75 images below the best: told apart, the best stays
    assert recommend(done, 5000)["trial"] == 1 and recommend([], 5000) is None


def test_each_effect_is_set_against_the_baselines_seed_to_seed_spread():
    from fmnist_edge.train.sweep.report import explain, seed_spread

    def point(value, accuracy, seed=None):
        return {"value": value, "val_accuracy": accuracy, "seconds": 10.0, "params": 100, "seed": seed}
    baseline = [point(32, a, s) for a, s in ((0.900, None), (0.904, 1), (0.896, 2))]
    spread = seed_spread(baseline)  # sd 0.4 points, t(2) = 4.30: ±1.99 points for one more trial
    assert spread["seeds"] == 3 and round(spread["prediction_half_width"] * 100, 2) == 1.99
    curve = {"tutorial_value": 32, "base_label": "tutorial", "spread": spread,
             "points": [*baseline, point(8, 0.870), point(64, 0.905)]}
    text = explain("filters", curve)
    assert "1 of 2 values are beyond it: 8 (-3.00) points." in text
    curve["points"] = [*baseline, point(64, 0.905)]
    assert "no value of filters is measurably different: the largest, filters = 64, is +0.50" in \
        explain("filters", curve)
    curve["spread"] = None
    assert "cannot be told: the tutorial was trained with one seed" in explain("filters", curve)
    curve["points"] = [baseline[0], point(64, 0.900)]
    assert "validation accuracy 90.00 % at every value (32, 64)" in explain("filters", curve)


def test_flip_ema_and_global_pool_are_sweepable_and_print_as_options():
    from fmnist_edge.train import cli
    from fmnist_edge.train.sweep import space as sweep_space
    from fmnist_edge.train.sweep.report import _flags

    names = sweep_space.parse_names("flip,ema,global_pool", ModelKind.EDGE_CNN)
    base = SweepConfig(model=ModelKind.EDGE_CNN, names=names).base()
    trial = sweep_space.apply(base, {"flip": "on", "ema": 0.999, "global_pool": "on"}).resolved()
    assert (trial.flip, trial.ema, trial.global_pool) == (True, 0.999, True)
    text = _flags({"flip": "on", "ema": 0.999, "global_pool": "on"})
    config = cli.config_from_args(cli.build_parser().parse_args(["--model", "edge-cnn", *text.split()]))
    assert (config.flip, config.ema, config.global_pool) == (True, 0.999, True)
    with pytest.raises(FmnistError, match="edge-cnn only"):
        sweep_space.parse_names("global_pool", ModelKind.SEED_CNN)


def test_teacher_weight_needs_teachers_and_reaches_every_trial(tmp_path):
    with pytest.raises(FmnistError, match="teacher_weight needs --teacher"):
        sweep_cli.config_from_args(sweep_cli.build_parser().parse_args(
            ["--model", "edge-cnn", "--params", "teacher_weight"]))
    args = sweep_cli.build_parser().parse_args(["--model", "edge-cnn", "--params", "teacher_weight",
                                                "--teacher", str(tmp_path / "t1"), "--teacher", "t2"])
    config = sweep_cli.config_from_args(args)
    assert config.teacher == (str(tmp_path / "t1"), "t2") and config.base().teacher == config.teacher
    assert type(config).from_json(json.loads(json.dumps(config.to_json()))) == config
    from fmnist_edge.train.sweep import space as sweep_space
    from fmnist_edge.train.sweep.report import command

    off = sweep_space.apply(config.base(), {"teacher_weight": 0.0}).resolved()
    assert off.teacher == config.teacher and off.teacher_weight == 0.0  # trained on labels alone
    assert f"--teacher {tmp_path / 't1'} --teacher t2" in command(config)


def test_the_readme_block_tables_every_trial_against_the_bases_mean():
    from fmnist_edge.train.sweep.report import ablation_table

    def point(value, accuracy, seed=None):
        return {"value": value, "val_accuracy": accuracy, "train_accuracy": 0.95, "seconds": 600.0,
                "params": 103_594, "seed": seed}
    def base(value):  # every curve holds the base's trials at its own value (report._curve)
        return [point(value, 0.930, None), point(value, 0.934, 1)]
    report = {"base": {"validation_size": 5000}, "hyperparameters": {
        "flip": {"tutorial_value": "off", "base_label": "recipe", "points": [*base("off"), point("on", 0.936)]},
        "epochs": {"tutorial_value": 60, "base_label": "recipe", "points": [*base(60), point(100, 0.929)]}}}
    lines = ablation_table(report).splitlines()
    assert lines[0].startswith("| trial | val accuracy % ±95 % | vs recipe (points) |")
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| recipe", "| recipe, seed 1", "| flip = on",
                                                          "| epochs = 100"]
    assert "| +0.40 |" in lines[4] and "| -0.30 |" in lines[5] and "| 103,594 |" in lines[5]
