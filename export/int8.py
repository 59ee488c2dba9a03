"""Every calibrated variant of one format (int8, mixed, auto), the same way for TFLite and ONNX.

A format supplies a builder with two calls: ``plain(setting, float_layers, quantization)`` →
model bytes, and ``debug(setting, float_layers)`` → (model bytes, per-layer error on the
validation sample). Here they are put together: the calibration setting (``--calibration auto``
searches once per format and export), the fixed float layers of ``mixed``, the fallback loop of
``auto``, and the latency ``auto`` costs against full int8. Only validation images are read.
"""

from __future__ import annotations

from fmnist_edge.runtime.errors import FmnistError

from . import calibration_search, trial
from .config import Calibration, CalibrationMethod, Conversion, Quantization
from .fallback import accuracy_aware
from .validation import require_validation


class BudgetNotMet(FmnistError):
    """``--quantize auto`` found no int8 model within the budget short of all-float (exit 1)."""

    exit_code = 1


def first_conv(model) -> list[str]:
    """``mixed``'s float layers: the first convolution of the Keras model.

    With the BatchNormalization and activation right after it too: the converter folds them
    into the conv's one op, which TFLite names after the last (the edge CNN's conv1, bn1 and
    act1 are one CONV_2D whose output is act1's).
    """
    import keras

    fused = (keras.layers.BatchNormalization, keras.layers.ReLU, keras.layers.Activation)
    layers = list(model.layers)
    for i, layer in enumerate(layers):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            names = [layer.name]
            for after in layers[i + 1:]:
                if not isinstance(after, fused):
                    break
                names.append(after.name)
            return names
    raise FmnistError("--quantize mixed keeps the first convolution in float, but the model has none")


def has_conv(model) -> bool:
    """Whether ``mixed`` applies: the model has a convolution to keep in float."""
    try:
        return bool(first_conv(model))
    except FmnistError:
        return False


def calibrated(job: Conversion, builder) -> tuple[bytes, dict]:
    """The model bytes of ``job``'s calibrated variant and its manifest facts."""
    quantization = job.variant.quantization
    setting, facts = _setting(job, builder)
    if quantization is Quantization.AUTO:
        model, auto = _auto(job, builder, setting)
        return model, {**facts, **auto}
    float_layers = first_conv(job.source.model) if quantization is Quantization.MIXED else []
    if float_layers:
        facts["float_layers"] = float_layers
    if job.validation is None:
        facts["layer_error"] = None  # no validation split: nothing to measure it on
        return builder.plain(setting, float_layers, quantization), facts
    model, facts["layer_error"] = _debug(job, builder, setting, float_layers)
    if quantization is Quantization.INT8 and builder.own_int8:  # TFLite: int8 in/out
        model = builder.plain(setting, float_layers, quantization)
    return model, facts


def _debug(job: Conversion, builder, setting: Calibration, float_layers: list[str]):
    """``builder.debug``, once per format, setting and float layers in one export."""
    key = ("debug", job.variant.format, setting, tuple(float_layers))
    if key not in job.memo:
        job.memo[key] = builder.debug(setting, float_layers)
    return job.memo[key]


def _setting(job: Conversion, builder) -> tuple[Calibration, dict]:
    """The calibration setting (searched once per format with ``--calibration auto``)."""
    config = job.config
    if config.calibration is not CalibrationMethod.AUTO:
        return config.default_calibration, {"calibration": config.default_calibration.to_json()}
    key = f"calibration-search-{job.variant.format}"
    if key not in job.memo:
        validation = require_validation(job.validation, job.source.run_dir, "--calibration auto")
        job.memo[key] = calibration_search.search(
            job.variant.format, lambda s: builder.plain(s, [], Quantization.MIXED),
            lambda m: trial.score(m, job.variant.format, validation, job.scratch))
    found = job.memo[key]
    return calibration_search.from_json(found["chosen"]), {"calibration": found["chosen"],
                                                           "calibration_search": found}


def _auto(job: Conversion, builder, setting: Calibration) -> tuple[bytes, dict]:
    fmt, budget = job.variant.format, job.config.max_drop
    validation = require_validation(job.validation, job.source.run_dir, "--quantize auto")
    first = _debug(job, builder, setting, [])  # int8's own run when int8 was exported too
    weighted = frozenset(layer.name for layer in job.source.model.layers if layer.weights)
    result = accuracy_aware(lambda layers: builder.debug(setting, layers),
                            lambda m: trial.score(m, fmt, validation, job.scratch), budget, first,
                            weighted)
    record = result.to_json(budget)
    if not result.met:
        job.memo.setdefault("not-written", []).append({"file": job.variant.file_name, **record})
        raise BudgetNotMet(f"{job.variant.name}: no int8 model loses at most {budget} validation "
                           f"points short of all-float (float layers tried: "
                           f"{', '.join(result.float_layers) or 'none'}); nothing written")
    models = {"full_int8": trial.candidate(first[0], fmt, job.scratch, threads=1),
              "auto": trial.candidate(result.model, fmt, job.scratch, threads=1)}
    latency = trial.batch1_latency_us(models, validation.images[:1])
    latency["ratio"] = round(latency["auto"] / latency["full_int8"], 3)
    return result.model, {"float_layers": result.float_layers, "layer_error": result.error,
                          "fallback": record, "latency_us": latency,
                          "validation": record["steps"][record["kept_step"]]["validation"]}
