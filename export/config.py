"""Export choices (str Enums) and the frozen config of one export; formats are runtime's table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist_edge.runtime.formats import VARIANTS, Choice, Format, Quantization, Variant

__all__ = ["Conversion", "ExportConfig", "Format", "OnnxActivations", "Quantization"]


class OnnxActivations(Choice):
    """ONNX Runtime activation type for static int8 (weights are always int8)."""

    UINT8 = "uint8"  # U8S8: measured faster on x86 for this model (see shared notes)
    INT8 = "int8"


@dataclass(frozen=True)
class ExportConfig:
    """What to export and how to check it."""

    formats: tuple[Format, ...] = tuple(Format)
    quantizations: tuple[Quantization, ...] = tuple(Quantization)
    calibration_samples: int = 500
    onnx_activations: OnnxActivations = OnnxActivations.UINT8
    max_drop: float = 1.0  # accuracy points an artifact may lose against the Keras model
    check: bool = True
    opset: int = 17

    def jobs(self) -> list[Variant]:
        """Every requested pair the table has, in a stable order (by format, then quantization)."""
        return [v for f in self.formats for q in self.quantizations for v in VARIANTS
                if v.format == f and v.quantization == q]


@dataclass(frozen=True)
class Conversion:
    """One file to write: what each converter's ``convert(job)`` receives."""

    source: object  # export.source.SourceModel: the Keras model, its path and sha256
    variant: Variant
    calibration: np.ndarray  # float x/255 NHWC training images
    target: Path
    config: ExportConfig
    scratch: Path  # a temporary folder shared by every conversion of one export
