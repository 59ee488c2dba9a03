"""``--calibration auto``: every calibration setting scored on the validation split, the best kept.

ONNX: MinMax, Entropy, Percentile 99.99 / 99.999 × 100 / 500 / 2,000 training images ×
per-channel on/off (24 settings); TFLite's converter has one method (min/max, per-channel), so
only its sample count varies (3). The best has the smallest validation drop, then the highest
agreement with float; on a tie the earlier setting in the grid (the default comes first) wins.
"""

from __future__ import annotations

from collections.abc import Callable

from fmnist_edge.runtime.formats import Format

from .config import Calibration, CalibrationMethod

SAMPLES = (500, 100, 2000)  # the default first: it wins ties
ONNX_METHODS = (CalibrationMethod.MINMAX, CalibrationMethod.ENTROPY,
                CalibrationMethod.PERCENTILE_9999, CalibrationMethod.PERCENTILE_99999)


def grid(fmt: Format) -> list[Calibration]:
    """Every setting tried for ``fmt``, the default (min/max, 500, per-channel) first."""
    if fmt is Format.TFLITE:
        return [Calibration(CalibrationMethod.MINMAX, n, True) for n in SAMPLES]
    return [Calibration(m, n, pc) for pc in (True, False) for m in ONNX_METHODS for n in SAMPLES]


def search(fmt: Format, build: Callable[[Calibration], bytes],
           evaluate: Callable[[bytes], dict]) -> dict:
    """Score every setting of ``grid(fmt)``; the manifest's record, with the best setting."""
    rows = []
    for setting in grid(fmt):
        rows.append({**setting.to_json(), "label": setting.label,
                     "validation": evaluate(build(setting))})
    best = min(range(len(rows)), key=lambda i: (rows[i]["validation"]["drop_points"],
                                                -rows[i]["validation"]["agreement"], i))
    return {"from": "validation split", "settings": rows, "best": rows[best]["label"],
            "chosen": _setting(rows[best])}


def _setting(row: dict) -> dict:
    return {"method": row["method"], "samples": row["samples"], "per_channel": row["per_channel"]}


def from_json(data: dict) -> Calibration:
    """The Calibration a ``chosen`` record names."""
    return Calibration(CalibrationMethod(data["method"]), int(data["samples"]),
                       bool(data["per_channel"]))
