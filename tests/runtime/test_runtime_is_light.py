"""The runtime is what a device installs: importing it loads numpy and nothing heavier.

Engines (onnxruntime, ai_edge_litert, tflite_runtime) and Pillow load only inside the function that
needs them, so ``fmnist-predict --help`` and a script that only reads the dataset stay fast.
"""

import json
import pkgutil
import subprocess
import sys

import fmnist_edge.runtime

HEAVY = ["tensorflow", "keras", "tf2onnx", "onnx", "matplotlib", "pandas", "onnxruntime",
         "ai_edge_litert", "tflite_runtime", "PIL"]


def test_importing_every_runtime_module_loads_no_tensorflow():
    modules = [f"fmnist_edge.runtime.{m.name}" for m in pkgutil.iter_modules(fmnist_edge.runtime.__path__)]
    assert "fmnist_edge.runtime.dataset" in modules
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(json.dumps([h for h in {HEAVY!r} if h in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_fmnist_predict_help_loads_nothing_heavy():
    code = ("import json, sys\nfrom fmnist_edge.runtime import predict_cli\n"
            "try:\n    predict_cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print(json.dumps([h for h in {HEAVY!r} if h in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == []
