"""The table of formats: one row per pair, every row's converter and engines exist, one spelling."""

import importlib
import re
from pathlib import Path

import pytest

from fmnist_edge.runtime import formats
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.formats import (ENGINES, FORMATS, VARIANTS, Backend, Format, Quantization,
                                         format_of, quantization_label, supported, variant)

REPO = Path(__file__).resolve().parents[2]


def test_every_pair_is_one_row_with_its_own_file_name():
    pairs = [(v.format, v.quantization) for v in VARIANTS]
    assert len(pairs) == len(set(pairs))
    names = [v.file_name for v in VARIANTS]
    assert len(names) == len(set(names))
    for v in VARIANTS:
        assert format_of(Path(v.file_name)) is v.format
        assert variant(v.format.value, v.quantization.value) is v
        assert v.name == f"{v.format.value} {quantization_label(v.quantization.value)}"


def test_display_names_and_values():
    assert Quantization.NONE.label == "float32"
    assert variant(Format.ONNX, Quantization.NONE).file_name == "model_float32.onnx"
    assert variant(Format.TFLITE, Quantization.INT8).file_name == "model_int8.tflite"
    assert quantization_label("predict") == "predict"  # the Keras baselines' records
    assert f"{Format.ONNX}-{Quantization.INT8}-{Backend.LITERT}" == "onnx-int8-litert"


def test_unsupported_pair_and_unknown_suffix_are_one_line_errors():
    with pytest.raises(FmnistError, match="onnx supports none, int8"):
        variant(Format.ONNX, Quantization.FLOAT16)
    with pytest.raises(FmnistError, match=r"expected a \.tflite or \.onnx file"):
        format_of(Path("model.pt"))
    assert supported(Format.TFLITE) == tuple(Quantization)


def test_every_format_has_a_converter_and_engines_that_run_it():
    for fmt, row in FORMATS.items():
        assert row.backends and all(ENGINES[b].format is fmt for b in row.backends)
        source = REPO / "export" / f"{row.converter}.py"
        assert "\ndef convert(job: Conversion) -> dict:" in source.read_text()
    assert set(ENGINES) == set(Backend) - {Backend.AUTO}
    for engine in ENGINES.values():
        module = importlib.import_module(f"fmnist_edge.runtime.{engine.module}")
        assert callable(module.check) and callable(module.open_model)
        advice = f"'fmnist-edge[{engine.extra}]'" if engine.extra else "fmnist-edge"
        assert engine.missing().args[0].endswith(f"pip install {advice}")


def test_suffixes_and_display_names_are_spelled_only_in_the_table():
    """Adding a format is a row here: no other source file spells a suffix or 'float32'."""
    literal = re.compile(r"""["'](\.tflite|\.onnx|float32)["']""")
    table = Path(formats.__file__).resolve()
    offenders = [f"{path.relative_to(REPO)}: {match.group(0)}"
                 for folder in ("runtime", "export", "benchmarks", "train")
                 for path in sorted((REPO / folder).rglob("*.py")) if path.resolve() != table
                 for match in literal.finditer(path.read_text())]
    assert offenders == []
    assert len(literal.findall(table.read_text())) == 3
