"""The runtime on the real exported tutorial CNN: accuracy, photos, memory (CI runs these)."""

import subprocess
import sys

import numpy as np
import pytest

from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.dataset import load_fashion_mnist
from fmnist_edge.runtime.images import decode_image

from .photos import renderings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def test_set():
    data = load_fashion_mnist()
    return data.x_test, data.y_test


def test_classifier_reproduces_every_manifest_accuracy(tutorial_export, test_set):
    x_test, y_test = test_set
    for entry in tutorial_export.manifest["artifacts"]:
        clf = Classifier.load(tutorial_export.out_dir, format=entry["format"],
                              quantization=entry["quantization"])
        accuracy = float(np.mean(np.argmax(clf.predict(x_test), axis=1) == y_test))
        assert accuracy == entry["check"]["accuracy"], entry["file"]


def test_batch_1_path_agrees_with_the_batched_path(tutorial_export, test_set):
    x_test, _ = test_set
    clf = Classifier.load(tutorial_export.out_dir)  # int8 TFLite: the pixel-shift fast path
    batched = np.argmax(clf.predict(x_test[:2000]), axis=1)
    single = np.array([np.argmax(clf.predict(image)) for image in x_test[:2000]])
    assert (single == batched).mean() >= 0.999  # XNNPACK batch vs single kernels may round apart


def test_photo_like_renderings_stay_within_3_points(tutorial_export, test_set):
    x_test, y_test = test_set
    n = 1500
    clf = Classifier.load(tutorial_export.out_dir)
    converted = [decode_image(data, "rendering") for *_, data in renderings(x_test[:n])]
    plain = np.mean(np.argmax(clf.predict(x_test[:n]), axis=1) == y_test[:n])
    photos = np.mean(np.argmax(clf.predict(np.stack(converted)), axis=1) == y_test[:n])
    print(f"plain {plain:.4f}, photo-like {photos:.4f} on {n} test images")
    assert photos >= plain - 0.03


MEMORY_PROBE = """
import resource, sys
import numpy as np
from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.dataset import load_fashion_mnist

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()

clf = Classifier.load(sys.argv[1], format=sys.argv[2])
images = load_fashion_mnist().x_test[:1000]
for i in range(20_000):  # warm-up: allocator pools, caches
    clf.predict(images[i % 1000])
before = rss()
for i in range(200_000):
    clf.predict(images[i % 1000])
print(before, rss(), "tensorflow" in sys.modules)
"""


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_200k_batch_1_predictions_do_not_grow_memory(tutorial_export, fmt):
    # A fresh process holding only the runtime, so 5 % is measured against what a device runs.
    proc = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(tutorial_export.out_dir), fmt],
                          capture_output=True, text=True, check=True)
    before, after, tensorflow = proc.stdout.split()
    growth = (int(after) - int(before)) / int(before)
    print(f"{fmt}: RSS {int(before) / 2**20:.1f} MiB, growth {growth * 100:.2f} % over 200,000 calls")
    assert tensorflow == "False" and growth < 0.05
