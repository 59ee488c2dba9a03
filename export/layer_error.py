"""Per-layer int8 error, common to both formats: SQNR, Keras layer names, the ranked table.

SQNR (signal-to-quantization-noise ratio) = 10·log10(signal power / error power) in dB, ONNX
Runtime's definition: every 6 dB is one bit. An int8 tensor with a well-used range sits near
35–45 dB; below ~20 dB the layer's error is as large as a tenth of its signal.

Each converter names tensors after the Keras layers they came from (``seed_cnn_1/conv_1/Relu``,
``seed_cnn_1/dense1_1/MatMul;…``), so both formats' figures are reported, plotted and excluded
per Keras layer — the unit a user recognises and ``--quantize auto`` keeps in float.
"""

from __future__ import annotations

import math
import re

from fmnist_edge.tables import markdown_table

_COPY_SUFFIX = re.compile(r"_\d+$")  # Keras 3 names a traced layer's scope conv_1, dense1_1, …


def sqnr_db(signal_power: float, noise_power: float) -> float:
    """10·log10(signal / noise); capped at 200 dB for an exact tensor (noise 0)."""
    if noise_power <= 0 or not math.isfinite(noise_power):
        return 200.0 if noise_power == 0 else float("nan")
    if signal_power <= 0:
        return float("-inf")
    return min(200.0, 10 * math.log10(signal_power / noise_power))


def added_db(out_db: float, in_db: float) -> float:
    """The error a layer adds, in dB, from the accumulated SQNR after it and before it.

    With relative noise r = 10^(−SQNR/10), a layer passes on its input's and adds its own: it
    adds r_out − r_in. A layer whose output is no noisier than its input adds nothing measurable
    (200 dB, the cap).
    """
    added = 10 ** (-out_db / 10) - 10 ** (-in_db / 10)
    return min(200.0, -10 * math.log10(added)) if added > 0 else 200.0


def layer_of(tensor_name: str, layer_names) -> str | None:
    """The Keras layer a converter's tensor or node name belongs to; None when none matches.

    ``layer_names``: the traced model's layer names, or a dict of them to the user's names
    (source.traced_copy), in which case the user's name is returned.
    """
    known = layer_names if isinstance(layer_names, dict) else {n: n for n in layer_names}
    first = tensor_name.split(";")[0].split(":")[0]
    for part in reversed(first.split("/")):
        for candidate in (part, _COPY_SUFFIX.sub("", part)):
            if candidate in known:
                return known[candidate]
    return None


def ranked(rows: list[dict]) -> list[dict]:
    """One row per Keras layer (its worst tensor by ``rank_db``), worst layer first.

    ``rank_db`` is the SQNR of the error the layer itself adds: TFLite's layer-wise figure, or
    ONNX's estimate from the accumulated SQNR before and after the layer (see onnx_debug).
    """
    worst: dict[str, dict] = {}
    for row in rows:
        have = worst.get(row["layer"])
        if have is None or row["rank_db"] < have["rank_db"]:
            worst[row["layer"]] = row
    return sorted(worst.values(), key=lambda r: r["rank_db"])


def worst_layer(error: dict, keep: list[str]) -> str | None:
    """The quantized layer with the worst error that is not in ``keep``; None when none is left."""
    for row in error["layers"]:
        if row["layer"] not in keep:
            return row["layer"]
    return None


def layer_table(error: dict) -> str:
    """Markdown table of one artifact's ranked layers (worst first): the debugger's layer-wise
    figures (calibrated TFLite), or the added error estimated from activations (ONNX, dynamic)."""
    if any("rmse_scale" in r for r in error["layers"]):
        rows = [[r["layer"], r["op"], f"{r['sqnr_db']:.1f}", f"{r['rmse_scale']:.3f}"]
                for r in error["layers"]]
        return markdown_table(["layer", "op", "SQNR dB (this layer)", "RMSE / scale"], rows, "llrr")
    rows = [[r["layer"], r["op"], f"{r['added_db']:.1f}", f"{r['sqnr_db']:.1f}"]
            for r in error["layers"]]
    return markdown_table(["layer", "op", "SQNR dB (added here, est.)", "SQNR dB (vs float model)"],
                          rows, "llrr")
