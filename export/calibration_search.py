"""``--calibration auto``: every calibration setting scored on the validation split, the best kept.

ONNX: MinMax, Entropy, Percentile 99.99 / 99.999 × 100 / 500 / 2,000 training images ×
per-channel on/off (24 settings); TFLite's converter has one method (min/max, per-channel), so
only its sample count varies (3). The best by point estimate has the smallest validation drop,
then the highest agreement with float. The setting kept is the earliest in the grid (the default
comes first) that is not measurably worse than that one on the validation images (paired, see
.noise): 24 settings on 5,000 images, the lowest drop is partly the luckiest.
"""

from __future__ import annotations

from collections.abc import Callable

from fmnist_edge.runtime.formats import Format

from . import noise
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
    rows, scores = [], []
    for setting in grid(fmt):
        scores.append(evaluate(build(setting)))
        rows.append({**setting.to_json(), "label": setting.label, "validation": noise.public(scores[-1])})
    best = min(range(len(rows)), key=lambda i: (scores[i]["drop_points"], -scores[i]["agreement"], i))
    kept = next(i for i in range(len(rows)) if i == best or not noise.told_worse(scores[i], scores[best]))
    record = {"from": "validation split", "settings": rows, "best": rows[kept]["label"],
              "best_by_point_estimate": rows[best]["label"], "chosen": _setting(rows[kept])}
    if kept != best:
        record["noise"] = noise.note(scores[kept], scores[best], (
            f"{rows[kept]['label']} kept (earlier in the grid): its validation accuracy cannot be "
            f"told from {rows[best]['label']}'s, the lowest drop"))
    return record


def _setting(row: dict) -> dict:
    return {"method": row["method"], "samples": row["samples"], "per_channel": row["per_channel"]}


def from_json(data: dict) -> Calibration:
    """The Calibration a ``chosen`` record names."""
    return Calibration(CalibrationMethod(data["method"]), int(data["samples"]),
                       bool(data["per_channel"]))
