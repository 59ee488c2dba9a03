import json
import shutil
from pathlib import Path

import pytest

from fmnist_edge.runtime.labels import CLASS_NAMES
from fmnist_edge.runtime.manifest import sha256_file

BUNDLED = Path(__file__).resolve().parents[2] / "runtime" / "models"


def build_tiny_export(folder: Path) -> Path:
    """``folder`` made an export folder: the bundled tiny models and a manifest listing them."""
    folder.mkdir()
    entries = []
    for fmt, quant in (("tflite", "int8"), ("onnx", "none")):
        name = f"model_{'float32' if quant == 'none' else quant}.{fmt}"
        shutil.copy2(BUNDLED / f"doctor-tiny.{fmt}", folder / name)
        entries.append({"file": name, "format": fmt, "quantization": quant,
                        "sha256": sha256_file(folder / name), "size_bytes": (folder / name).stat().st_size,
                        "labels": [f"c{i}" for i in range(10)],
                        "preprocessing": {"scale": 1 / 255, "layout": "NHWC"}})
    manifest = {"schema": 1, "labels": list(CLASS_NAMES), "artifacts": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture
def export_dir(tmp_path) -> Path:
    """An export folder with the bundled tiny models and a manifest listing them (no TF needed)."""
    return build_tiny_export(tmp_path / "export")
