"""Export choices (str Enums) and the frozen config of one export; formats are runtime's table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fmnist_edge.runtime.formats import VARIANTS, Choice, Format, Quantization, Variant

__all__ = ["Calibration", "CalibrationMethod", "Conversion", "ExportConfig", "Format",
           "OnnxActivations", "OnnxWeights", "Quantization"]


class OnnxActivations(Choice):
    """ONNX Runtime activation type for static int8 (the weights: OnnxWeights)."""

    UINT8 = "uint8"  # U8S8: measured faster on x86 for this model (see shared notes)
    INT8 = "int8"


class OnnxWeights(Choice):
    """ONNX Runtime weight type for static int8, and whether every CPU computes it exactly.

    On x86 without VNNI ORT's u8×s8 kernels add pairs of products in saturating int16: full-range
    int8 weights overflowed there (82 of 10,000 tutorial-CNN predictions changed, AVX2-only EPYC).
    """

    INT7 = "int7"  # int8 storage, 7-bit range (ORT's reduce_range): exact everywhere, fast on x86
    INT8 = "int8"  # full range: exact on ARM and on x86 with VNNI, saturates on x86 without it
    UINT8 = "uint8"  # U8U8: exact everywhere, full range; slower than float on the VNNI Xeon VM

    @property
    def reduce_range(self) -> bool:
        """quantize_static's reduce_range: 7-bit weights."""
        return self is OnnxWeights.INT7


class CalibrationMethod(Choice):
    """How int8 activation ranges are set from the calibration images (ONNX; TFLite is min/max)."""

    MINMAX = "minmax"  # the observed range: every value fits, outliers stretch the grid
    ENTROPY = "entropy"  # the range that keeps the histogram's KL divergence smallest
    PERCENTILE_9999 = "percentile-99.99"  # clip the top 0.01 % of |values|
    PERCENTILE_99999 = "percentile-99.999"
    AUTO = "auto"  # score every setting on the validation split, write the best

    @property
    def percentile(self) -> float | None:
        """99.99 for percentile-99.99, …; None for the other methods."""
        return float(self.value.split("-")[1]) if self.value.startswith("percentile") else None


@dataclass(frozen=True)
class Calibration:
    """One calibration setting: method, number of training images, per-channel weight scales."""

    method: CalibrationMethod = CalibrationMethod.MINMAX
    samples: int = 500
    per_channel: bool = True

    @property
    def label(self) -> str:
        """``minmax 500 per-channel``, as tables print it."""
        return f"{self.method.value} {self.samples} {'per-channel' if self.per_channel else 'per-tensor'}"

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"method": self.method.value, "samples": self.samples, "per_channel": self.per_channel}


@dataclass(frozen=True)
class ExportConfig:
    """What to export and how to check it."""

    formats: tuple[Format, ...] = tuple(Format)
    quantizations: tuple[Quantization, ...] = tuple(Quantization)
    calibration_samples: int = 500
    calibration: CalibrationMethod = CalibrationMethod.MINMAX
    onnx_activations: OnnxActivations = OnnxActivations.UINT8
    onnx_weights: OnnxWeights = OnnxWeights.INT7
    # accuracy points an artifact may lose against the Keras model: on the test set for the
    # self-check, on the validation split for --quantize auto's fallback loop
    max_drop: float = 0.5
    check: bool = True
    opset: int = 17

    @property
    def default_calibration(self) -> Calibration:
        """The setting the options name (``auto`` searches from this one's sample count)."""
        method = CalibrationMethod.MINMAX if self.calibration is CalibrationMethod.AUTO \
            else self.calibration
        return Calibration(method, self.calibration_samples)

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
    validation: object = None  # export.validation.Validation, or None when the run has no split
    pool: object = None  # export.calibration.CalibrationPool: training images by sample count
    memo: dict = field(default_factory=dict)  # per-export results shared by the variants
