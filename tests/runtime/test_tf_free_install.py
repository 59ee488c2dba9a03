"""`pip install fmnist-edge[litert]` alone (no TensorFlow) classifies images and matches the manifest.

Builds a fresh virtualenv from this checkout, as a device user would install it (CI runs this).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
ACCURACY = """
import importlib.util, sys
import numpy as np
from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.dataset import load_fashion_mnist
data = load_fashion_mnist()
clf = Classifier.load(sys.argv[1])
correct = int(np.sum(np.argmax(clf.predict(data.x_test), axis=1) == data.y_test))
print(clf.path.name, clf.backend, correct, importlib.util.find_spec("tensorflow") is None)
"""


BENCH = """
import sys
from fmnist_edge.benchmarks.cli import main
code = main([sys.argv[1], "--quick", "--threads", "1", "--out", sys.argv[2]])
print("LOADED", *sorted(m for m in ("tensorflow", "keras", "matplotlib") if m in sys.modules))
sys.exit(code)
"""


def _venv(tmp_path_factory, extra: str) -> Path:
    venv = tmp_path_factory.mktemp(f"device-{extra}") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    f"{ROOT}[{extra}]" if extra else str(ROOT)], check=True, timeout=900)
    return venv


@pytest.fixture(scope="module")
def litert_venv(tmp_path_factory) -> Path:
    return _venv(tmp_path_factory, "litert")


@pytest.fixture(scope="module")
def onnx_venv(tmp_path_factory) -> Path:
    return _venv(tmp_path_factory, "onnx")


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory) -> Path:
    """pip install fmnist-edge with no extra: NumPy and Pillow, no engine."""
    return _venv(tmp_path_factory, "")


@pytest.fixture(scope="module")
def serve_venv(tmp_path_factory) -> Path:
    return _venv(tmp_path_factory, "serve,litert")


@pytest.mark.parametrize("extra, runs", [("litert", "tflite"), ("onnx", "onnx")])
def test_fmnist_bench_on_a_device_install(extra, runs, request, tutorial_export, tmp_path):
    """Only one engine, no TensorFlow, no matplotlib: every model that engine runs, json/md, no
    plots, the device record, and the folder's float32 file as the reference."""
    venv = request.getfixturevalue(f"{extra}_venv")
    out = tmp_path / "reports"
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", BENCH, str(tutorial_export.out_dir),
                           str(out)], capture_output=True, text=True, cwd=venv, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "LOADED"  # TensorFlow, Keras, matplotlib: never imported
    assert sorted(p.name for p in out.iterdir()) == ["benchmark.json", "benchmark.md"]
    report = json.loads((out / "benchmark.json").read_text())
    formats = {r["format"] for r in report["records"]}
    assert formats == {runs}
    expected = sum(e["format"] == runs for e in tutorial_export.manifest["artifacts"])
    total = len(tutorial_export.manifest["artifacts"])
    assert len(report["records"]) == expected and len(report["skipped"]) == total - expected
    assert report["reference"] == f"model_float32.{runs} (no TensorFlow here)"
    assert report["device"]["sources"] == {"seed-cnn": tutorial_export.manifest["source"]["sha256"]}
    for r in report["records"]:
        entry = next(e for e in tutorial_export.manifest["artifacts"] if e["file"] == r["model"])
        assert abs(r["accuracy"] - entry["check"]["accuracy"]) < 1e-9, r["model"]


def test_no_tensorflow_and_the_manifest_accuracy_to_the_last_image(litert_venv, tutorial_export):
    # cwd outside the checkout, so the installed wheel is what runs
    out = subprocess.run([str(litert_venv / "bin" / "python"), "-c", ACCURACY,
                          str(tutorial_export.out_dir)], capture_output=True, text=True, check=True,
                         cwd=litert_venv)
    name, backend, correct, no_tf = out.stdout.split()
    entry = next(e for e in tutorial_export.manifest["artifacts"] if e["file"] == name)
    assert (name, backend, no_tf) == ("model_int8.tflite", "litert", "True")
    assert int(correct) == round(entry["check"]["accuracy"] * entry["check"]["test_images"])


def test_fmnist_predict_and_doctor_run_in_the_device_venv(litert_venv, tutorial_export, tmp_path):
    from fmnist_edge.runtime.dataset import load_fashion_mnist

    data = load_fashion_mnist()
    for i in range(3):  # dark-on-light PNGs, as a phone photo would be
        big = Image.fromarray(255 - data.x_test[i]).resize((140, 140))
        big.save(tmp_path / f"{i}.png")
    proc = subprocess.run([str(litert_venv / "bin" / "fmnist-predict"), str(tutorial_export.out_dir),
                           str(tmp_path)], capture_output=True, text=True, cwd=litert_venv)
    assert proc.returncode == 0 and proc.stderr == ""
    labels = [line.split("\t")[1] for line in proc.stdout.splitlines()]
    from fmnist_edge.runtime.labels import CLASS_NAMES

    assert sum(label == CLASS_NAMES[y] for label, y in zip(labels, data.y_test[:3])) >= 2
    doctor = subprocess.run([str(litert_venv / "bin" / "fmnist-doctor")], capture_output=True,
                            text=True, cwd=litert_venv)
    assert doctor.returncode == 0 and "ok: doctor-tiny.tflite" in doctor.stdout
    assert "onnxruntime    not available" in doctor.stdout


# What fmnist-predict's cold start was cut of (docs/runtime.md, Cold start): imported by nothing
# on the way to one answer (numpy itself imports ctypes, so that one is not ours to keep out).
CUT = ("pathlib", "urllib.parse", "shutil", "tempfile", "importlib.metadata", "statistics", "numpy.ma")
FIRST_ANSWER = """
import sys
before = set(sys.modules)
from fmnist_edge.runtime.predict_cli import main
code = main(sys.argv[2:])
print("IMPORTED", *sorted(m for m in sys.argv[1].split(",") if m in set(sys.modules) - before),
      flush=True)
sys.exit(code)
"""


@pytest.mark.parametrize("suffix", [".png", ".npy"])
def test_fmnist_predict_imports_nothing_its_cold_start_was_cut_of(suffix, litert_venv, tutorial_export,
                                                                  tmp_path):
    """One image or one .npy to one answer: none of the modules cut from the path comes back (a
    non-editable install: the dev venv's editable finder imports pathlib itself); Pillow only
    for the image."""
    image = np.zeros((28, 28), np.uint8)
    path = tmp_path / f"one{suffix}"
    if suffix == ".png":
        Image.fromarray(image).save(path)
    else:
        np.save(path, image)
    cut = CUT + (() if suffix == ".png" else ("PIL",))
    proc = subprocess.run([str(litert_venv / "bin" / "python"), "-c", FIRST_ANSWER, ",".join(cut),
                           str(tutorial_export.out_dir / "model_int8.tflite"), str(path)],
                          capture_output=True, text=True, cwd=litert_venv, timeout=120)
    assert proc.returncode == 0, proc.stderr[-1000:]
    assert proc.stdout.splitlines()[-1] == "IMPORTED"
    assert proc.stdout.splitlines()[0].startswith(str(path))


def test_fmnist_serve_runs_from_a_serve_litert_install(serve_venv, tutorial_export):
    """pip install '.[serve,litert]' alone: the service starts, answers like the Classifier here.

    It runs from the venv's folder, so ``python -m`` imports the installed package, not this checkout.
    """
    import io

    import httpx

    from fmnist_edge.benchmarks.serving.process import ServerProcess
    from fmnist_edge.runtime.classifier import Classifier
    from fmnist_edge.runtime.dataset import load_fashion_mnist
    from fmnist_edge.runtime.images import decode_image

    python = serve_venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; "
                            "print(u.find_spec('tensorflow') is None, u.find_spec('uvicorn') is not None)"],
                           capture_output=True, text=True, check=True, cwd=serve_venv)
    assert probe.stdout.split() == ["True", "True"]
    images = load_fashion_mnist().x_test[:20]
    bodies = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "PNG")
        bodies.append(buffer.getvalue())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with ServerProcess(tutorial_export.out_dir.resolve(), python=str(python), env=env,
                       cwd=serve_venv) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            answers = [client.post("/v1/classify", content=b, headers={"Content-Type": "image/png"})
                       for b in bodies]
    assert all(a.status_code == 200 for a in answers), answers[0].text
    converted = np.stack([decode_image(b, "x") for b in bodies])  # what fmnist-predict makes of them
    want = [g[0].index for g in Classifier.load(tutorial_export.out_dir).classify(converted)]
    assert [a.json()["results"][0]["index"] for a in answers] == want


def test_numpy_and_fmnist_edge_alone_classify_and_benchmark(core_venv, tutorial_export, tmp_path):
    """No engine installs (a 32-bit Raspberry Pi OS): the numpy engine runs the TFLite files,
    fmnist-predict classifies a photo-like PNG and fmnist-bench measures every TFLite file."""
    from fmnist_edge.runtime.dataset import load_fashion_mnist
    from fmnist_edge.runtime.labels import CLASS_NAMES

    python = str(core_venv / "bin" / "python")
    probe = subprocess.run([python, "-c", "import importlib.util as u; print(*(u.find_spec(m) is None "
                            "for m in ('ai_edge_litert', 'onnxruntime', 'tflite_runtime', 'tensorflow')))"],
                           capture_output=True, text=True, check=True, cwd=core_venv)
    assert probe.stdout.split() == ["True"] * 4
    data = load_fashion_mnist()
    Image.fromarray(255 - data.x_test[0]).resize((140, 140)).save(tmp_path / "shirt.png")
    predict = subprocess.run([str(core_venv / "bin" / "fmnist-predict"), str(tutorial_export.out_dir),
                              str(tmp_path / "shirt.png"), "--json"],
                             capture_output=True, text=True, cwd=core_venv)
    assert predict.returncode == 0 and predict.stderr == "", predict.stderr
    assert json.loads(predict.stdout)["label"] == CLASS_NAMES[data.y_test[0]]
    out = tmp_path / "reports"
    bench = subprocess.run([python, "-m", "fmnist_edge.benchmarks.cli", str(tutorial_export.out_dir),
                            "--plan", "tiny", "--threads", "1", "--out", str(out)],
                           capture_output=True, text=True, cwd=core_venv, timeout=900)
    assert bench.returncode == 0, bench.stderr[-2000:]
    records = json.loads((out / "benchmark.json").read_text())["records"]
    tflite = [e for e in tutorial_export.manifest["artifacts"] if e["format"] == "tflite"]
    assert sorted(r["model"] for r in records) == sorted(e["file"] for e in tflite)
    assert {r["backend"] for r in records} == {"numpy"}
    for r in records:  # the manifest's accuracy is LiteRT's: top-1 differs on <= 0.1 % of images
        entry = next(e for e in tflite if e["file"] == r["model"])
        assert abs(r["accuracy"] - entry["check"]["accuracy"]) <= 0.001, r["model"]
