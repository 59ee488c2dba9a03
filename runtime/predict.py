"""``predict``: what ``fmnist-predict`` does — load a model, classify every input, one line each."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TextIO

from .images import DecodeLimits, Invert
from .options import ModelOptions

PROG = "fmnist-predict"


@dataclass(frozen=True)
class PredictConfig:
    """The model to load, the inputs to classify and how to print the answers."""

    model: str
    inputs: tuple[str, ...]
    top_k: int = 1
    as_json: bool = False
    options: ModelOptions = ModelOptions()  # which model, on which engine (AMX: deny unless told)
    invert: Invert = Invert.AUTO
    limits: DecodeLimits = DecodeLimits()  # the pixel limit of each image's decode


def predict(config: PredictConfig, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print one line per image on ``out``, one error line per failed input on ``err``.

    Returns 2 when some input failed (each already reported), else 0. A model that cannot load
    raises FmnistError before anything is printed.
    """
    from .classifier import Classifier, InputError
    from .inputs import read_inputs

    out, err = out or sys.stdout, err or sys.stderr
    clf = Classifier.load(config.model, config.options.for_command())
    failed = 0
    for batch in read_inputs(list(config.inputs), config.invert, config.limits):
        error = batch.error
        if error is None:
            try:
                results = clf.classify(batch.images, config.top_k)
            except InputError as exc:  # an .npy of the wrong shape, dtype or range
                error = f"{batch.source}: {exc}"
        if error:
            failed += 1
            print(f"{PROG}: error: {error}", file=err)
            continue
        for name, guesses in zip(batch.names, results):
            print(answer_line(name, guesses, config.as_json), file=out)
    return 2 if failed else 0


def answer_line(name: str, guesses, as_json: bool) -> str:
    """``name<TAB>label<TAB>score…``, or one JSON object with the top-k list."""
    if as_json:
        return json.dumps({"input": name, "label": guesses[0].label, "score": round(guesses[0].score, 6),
                           "top_k": [{"label": g.label, "index": g.index, "score": round(g.score, 6)}
                                     for g in guesses]})
    return f"{name}\t" + "\t".join(f"{g.label}\t{g.score:.4f}" for g in guesses)
