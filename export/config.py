"""Export choices (str Enums) and the frozen config of one export."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Format(str, Enum):
    """Model file formats."""

    TFLITE = "tflite"
    ONNX = "onnx"


class Quantization(str, Enum):
    """Numeric formats; NONE keeps float32 weights and activations."""

    NONE = "none"
    FLOAT16 = "float16"  # weights stored as float16, computed in float32
    DYNAMIC = "dynamic"  # int8 weights, float activations, no calibration
    INT8 = "int8"  # int8 weights and activations, calibrated; int8 input/output on TFLite
    # int8 like INT8, except the first convolution stays float32 (float input/output): on x86,
    # XNNPACK's int8 3×3 conv over a one-channel image costs 4.7× its float version (make layers)
    MIXED = "mixed"


class OnnxActivations(str, Enum):
    """ONNX Runtime activation type for static int8 (weights are always int8)."""

    UINT8 = "uint8"  # U8S8: measured faster on x86 for this model (see shared notes)
    INT8 = "int8"


SUPPORTED = {
    Format.TFLITE: (Quantization.NONE, Quantization.FLOAT16, Quantization.DYNAMIC, Quantization.INT8,
                    Quantization.MIXED),
    # ORT dynamic quantization is a known accuracy trap for CNNs; float16 ONNX is not offered.
    Format.ONNX: (Quantization.NONE, Quantization.INT8),
}
SUFFIX = {Format.TFLITE: ".tflite", Format.ONNX: ".onnx"}


def artifact_name(fmt: Format, quant: Quantization) -> str:
    """File name of one artifact, e.g. ``model_int8.tflite`` or ``model_float32.onnx``."""
    label = "float32" if quant is Quantization.NONE else quant.value
    return f"model_{label}{SUFFIX[fmt]}"


@dataclass(frozen=True)
class ExportConfig:
    """What to export and how to check it."""

    formats: tuple[Format, ...] = (Format.TFLITE, Format.ONNX)
    quantizations: tuple[Quantization, ...] = tuple(Quantization)
    calibration_samples: int = 500
    onnx_activations: OnnxActivations = OnnxActivations.UINT8
    max_drop: float = 1.0  # accuracy points an artifact may lose against the Keras model
    check: bool = True
    opset: int = 17

    def jobs(self) -> list[tuple[Format, Quantization]]:
        """Every requested (format, quantization) pair the format supports, in a stable order."""
        return [(f, q) for f in self.formats for q in self.quantizations if q in SUPPORTED[f]]
