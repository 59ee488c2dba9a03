"""One ``Classifier`` shared by threads (a web server's or a camera loop's worker pool).

Every answer a thread gets must equal the sequential answer for the same image: a race on shared
input/output buffers shows up as wrong probabilities, not as an error, so each one is compared.
"""

import threading

import numpy as np
import pytest

from fmnist_edge.runtime.classifier import Classifier

from .conftest import BUNDLED

THREADS = 8


def hammer(clf: Classifier, images: np.ndarray, expected: np.ndarray, calls: int, batch: int = 1):
    """THREADS threads × ``calls`` predictions each; returns (wrong answers, exceptions)."""
    wrong, errors, start = [], [], threading.Barrier(THREADS)

    def work(t: int) -> None:
        order = np.random.default_rng(t).integers(0, len(images) - batch + 1, calls)
        start.wait()
        try:
            for i in order:
                got = clf.predict(images[i] if batch == 1 else images[i:i + batch])
                if not np.array_equal(got, expected[i:i + 1] if batch == 1 else expected[i:i + batch]):
                    wrong.append(int(i))
        except Exception as exc:  # noqa: BLE001 — any error in a thread fails the test below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return wrong, errors


def sequential(clf: Classifier, images: np.ndarray, batch: int = 1) -> np.ndarray:
    """The answer for each image (batch 1) or each window of ``batch`` images, one call at a time."""
    if batch == 1:
        return np.concatenate([clf.predict(image) for image in images])
    return np.stack([clf.predict(images[i:i + batch]) for i in range(len(images) - batch + 1)])


def check(clf: Classifier, images: np.ndarray, calls: int, batch_calls: int) -> None:
    wrong, errors = hammer(clf, images, sequential(clf, images), calls)
    assert errors == [] and wrong == [], (len(wrong), errors[:3])
    wrong, errors = hammer(clf, images, Windows(sequential(clf, images, 64)), batch_calls, batch=64)
    assert errors == [] and wrong == [], (len(wrong), errors[:3])


class Windows:
    """``expected[i:i + 64]`` for the batch that starts at image i: its sequential answer."""

    def __init__(self, windows: np.ndarray) -> None:
        self.windows = windows

    def __getitem__(self, item: slice) -> np.ndarray:
        return self.windows[item.start]


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (300, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("name", ["doctor-tiny.tflite", "doctor-tiny.onnx"])
def test_threads_sharing_a_bundled_model_get_the_sequential_answers(name, images):
    check(Classifier.load(BUNDLED / name), images, calls=1000, batch_calls=50)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_threads_sharing_the_int8_tutorial_cnn_get_the_sequential_answers(fmt, tutorial_export):
    from fmnist_edge.runtime.dataset import load_fashion_mnist

    clf = Classifier.load(tutorial_export.out_dir, format=fmt, quantization="int8")
    check(clf, load_fashion_mnist().x_test[:3000], calls=3000, batch_calls=100)
