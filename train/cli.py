"""``fmnist-train``: train the tutorial CNN or the ANN on Fashion-MNIST and write a run folder."""

from __future__ import annotations

import argparse
import os
import sys

from fmnist_edge.progress import Progress
from fmnist_edge.runtime import cliutil
from fmnist_edge.runtime.dataset import ENV_VAR

from .config import Activation, Initializer, ModelKind, Optimizer, Schedule, TrainConfig

PROG = "fmnist-train"


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser; every hyperparameter option explains itself in one line."""
    p = cliutil.ArgumentParser(
        prog=PROG, description="Train a Fashion-MNIST model (defaults: the tutorial CNN, "
        "15 epochs, batch 32, adam) and write artifacts/<name>/.")
    _add_network(p.add_argument)
    _add_training(p.add_argument)
    add = p.add_argument
    add("--data", metavar="DIR", default=None,
        help=f"folder with the four IDX files (default: ${ENV_VAR}, then the Debian package "
        "dataset-fashion-mnist, then ~/.keras/datasets/fashion-mnist)")
    add("--out", metavar="DIR", default="artifacts",
        help="parent folder of run folders (default: %(default)s)")
    add("--name", default=None,
        help="run folder name under --out (default: the model kind, e.g. seed-cnn)")
    add("--progress", **cliutil.choice(Progress), default=Progress.AUTO,
        help="Keras progress output: a live bar, one line per epoch, or none; epoch still means "
        "lines (default: auto = a bar on a terminal, else lines)")
    return p


def _add_network(add) -> None:
    """Options that shape the network."""
    add("--model", **cliutil.choice(ModelKind), default=ModelKind.SEED_CNN,
        help="network: seed-cnn = the tutorial CNN (conv → pool → dense), ann = feed-forward "
        "dense layers only, edge-cnn = three small batch-normalized conv blocks built for int8 "
        "(default: seed-cnn)")
    add("--filters", type=cliutil.positive_int, default=None,
        help="CNN: number of feature detectors (filters) the conv layer learns; edge-cnn: of its "
        "first block, the next two get 2× and 4× (default: 32 seed-cnn; edge-cnn: --block-filters)")
    add("--block-filters", type=cliutil.int_list, default=None, metavar="N,N,N",
        help="edge-cnn: filters of its three conv blocks, stem first (default: 32,32,64)")
    add("--global-pool", action=argparse.BooleanOptionalAction, default=False,
        help="edge-cnn: average each channel of the last block (global average pooling) instead "
        "of max-pooling and flattening it; a 4× smaller dense head (default: off)")
    add("--kernel-size", type=cliutil.positive_int, default=3,
        help="CNN: height = width of each conv filter in pixels (default: %(default)s)")
    add("--pool-size", type=cliutil.positive_int, default=2,
        help="CNN: max-pooling window; 2 halves height and width, keeping the strongest response "
        "(default: %(default)s)")
    _choice(add, "--activation", Activation, Activation.RELU,
            "hidden-layer nonlinearity; relu passes positives and zeroes negatives")
    _choice(add, "--kernel-initializer", Initializer, Initializer.HE_UNIFORM,
            "how initial weights are drawn; he_* keeps ReLU activations well scaled")
    add("--dense-units", type=cliutil.int_list, default=None, metavar="N[,N...]",
        help="neurons in each hidden dense layer, comma-separated (default: 100 for seed-cnn, "
        "256,128 for ann, 128 for edge-cnn)")


def _add_training(add) -> None:
    """Options of the training recipe."""
    _choice(add, "--optimizer", Optimizer, Optimizer.ADAM,
            "weight-update rule: sgd = plain gradient steps, adam/rmsprop adapt the step per weight")
    add("--learning-rate", type=cliutil.positive_float, default=None,
        help="step size of each update; with --schedule cosine, the peak (default: the optimizer's "
        "own, 0.001 adam/rmsprop, 0.01 sgd; edge-cnn: 0.003 adam/rmsprop, 0.05 sgd)")
    add("--momentum", type=cliutil.unit_float, default=0.0,
        help="sgd only: fraction of the previous step carried into the next (default: %(default)s)")
    add("--epochs", type=cliutil.positive_int, default=None,
        help="passes over the 55k training images (default: 15, edge-cnn 100)")
    add("--batch-size", type=cliutil.positive_int, default=None,
        help="images per gradient step; smaller = noisier, more updates (default: 32, edge-cnn 128)")
    add("--augment", action=argparse.BooleanOptionalAction, default=None,
        help="train on randomly shifted (±1 px) images; validation and test images stay as they "
        "are (default: on for edge-cnn, off otherwise)")
    add("--erasing", action=argparse.BooleanOptionalAction, default=None,
        help="blank one random rectangle (2–40 %% of the image) on half the training images "
        "(random erasing; default: on for edge-cnn, off otherwise)")
    add("--flip", action=argparse.BooleanOptionalAction, default=None,
        help="flip half the training images left to right (default: on for edge-cnn, off otherwise)")
    add("--ema", type=cliutil.unit_float, default=0.0, metavar="MOMENTUM",
        help="keep an exponential moving average of the weights with this momentum per step "
        "(e.g. 0.999: about the last 1,000 steps) and ship it; 0 = off (default: %(default)s)")
    add("--teacher", action="append", default=None, metavar="RUN_DIR",
        help="distill from this trained run's model (repeat for several: their probabilities are "
        "averaged); they make up --teacher-weight of each training image's target (default: none)")
    add("--teacher-weight", type=cliutil.unit_float, default=0.5, metavar="W",
        help="with --teacher: the teachers' share of each target, the true label the rest "
        "(default: %(default)s)")
    add("--dropout", type=cliutil.unit_float, default=0.0,
        help="fraction of each dense layer's inputs zeroed at random while training, so no "
        "neuron can rely on one feature (default: %(default)s)")
    add("--label-smoothing", type=cliutil.unit_float, default=0.0,
        help="train towards 1 − s for the true class and s/10 for every class instead of 1/0, "
        "which discourages over-confident outputs (default: %(default)s)")
    add("--schedule", **cliutil.choice(Schedule), default=None,
        help="learning rate over time: constant, or cosine = one warm-up epoch, then a smooth "
        "decay to 0 (default: cosine for edge-cnn, constant otherwise)")
    add("--seed", type=cliutil.non_negative_int, default=0,
        help="random seed for initial weights and shuffling; same seed = same start (default: 0)")
    add("--early-stopping-patience", type=cliutil.non_negative_int, default=0, metavar="EPOCHS",
        help="stop after this many epochs without a better validation loss and keep the best "
        "weights; 0 = off, as in the tutorial (default: 0)")


def _choice(add, flag: str, enum: type, default, text: str) -> None:
    add(flag, **cliutil.choice(enum), default=default,
        help=f"{text} (default: {default.value})")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the parsed options describe."""
    return TrainConfig(
        model=args.model, filters=args.filters, block_filters=args.block_filters,
        kernel_size=args.kernel_size,
        pool_size=args.pool_size, activation=args.activation,
        kernel_initializer=args.kernel_initializer, dense_units=args.dense_units,
        optimizer=args.optimizer, learning_rate=args.learning_rate, momentum=args.momentum,
        epochs=args.epochs, batch_size=args.batch_size, augment=args.augment, erasing=args.erasing,
        flip=args.flip, ema=args.ema, global_pool=args.global_pool, teacher=tuple(args.teacher or ()),
        teacher_weight=args.teacher_weight,
        schedule=args.schedule, dropout=args.dropout, label_smoothing=args.label_smoothing,
        seed=args.seed,
        early_stopping_patience=args.early_stopping_patience)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fmnist-train``; returns the exit code."""
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    verbose = args.progress.keras_verbose()

    def action() -> int:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TF's C++ info banners
        from .run import train_run

        result = train_run(config, args.data, args.out, args.name, verbose)
        m = result.metrics
        print(f"{PROG}: {m['model']} test accuracy {m['test_accuracy'] * 100:.2f} % "
              f"(train {m['train_accuracy'] * 100:.2f} %, val {m['val_accuracy'] * 100:.2f} %), "
              f"{m['params']:,} params, {m['macs']:,} MACs, {m['epochs']} epochs in "
              f"{m['seconds']:.0f} s → {result.run_dir}/")
        return 0

    return cliutil.run(PROG, action)


if __name__ == "__main__":
    sys.exit(main())
