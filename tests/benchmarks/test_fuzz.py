"""Malformed model files: the fuzz harness's parts, then (slow) 300 mutants of each real int8 model."""

import subprocess

import numpy as np
import pytest

from fmnist_edge.benchmarks import fuzz


def test_mutations_are_seeded_and_of_each_kind():
    data = bytes(range(256)) * 64
    for kind in fuzz.KINDS:
        a = fuzz.mutate(data, kind, np.random.default_rng(1))
        assert a == fuzz.mutate(data, kind, np.random.default_rng(1)) and a != data, kind
    assert len(fuzz.mutate(data, "truncation", np.random.default_rng(2))) < len(data)


@pytest.mark.parametrize("code, stdout, stderr, outcome", [
    (-11, "", "", "crashed"), (-9, "", "", "crashed"),
    (2, "", "fmnist-predict: error: x.onnx: not a loadable ONNX model (…)\n", "refused"),
    (2, "", "Traceback (most recent call last):\n  …\nValueError\n", "broken"),
    (1, "", "RuntimeError: boom\n", "broken"),
    (0, '{"top_k": [{"score": 0.1}]}', "", "broken"),  # one score, not ten
    (0, '{"top_k": [' + ", ".join(['{"score": NaN}'] * 10) + "]}", "", "broken"),
    (0, '{"top_k": [' + ", ".join(['{"score": 0.1}'] * 10) + "]}", "", "accepted"),
])
def test_outcomes_are_judged_strictly(code, stdout, stderr, outcome):
    assert fuzz.judge(subprocess.CompletedProcess([], code, stdout, stderr))[0] == outcome


@pytest.mark.slow
def test_300_mutants_of_each_int8_model_crash_nothing(tutorial_export):
    rows = fuzz.fuzz(tutorial_export.out_dir, mutants=300)
    print(fuzz.table(rows))
    for row in rows:
        assert row["tried"] == row["refused"] + row["accepted"] == 300, fuzz.table(rows)
        assert row["refused"] > 0 and row["accepted"] > 0  # both paths were really exercised
