"""``--quantize auto``: int8 with the fewest float layers that keep the validation drop in budget.

The loop, the same for both formats: quantize everything, score on the validation split; while
the drop is over budget, keep in float the quantized layer whose own error is worst (re-measured
on the current model, since a float layer changes what the next one receives) and try again.
Candidates are the layers with weights (convolutions, dense layers) and any other layer that adds
measurable error; max-pool and reshape (above 100 dB: float rounding) never are. The last
candidate is never floated (that model is float32 with extra steps): when only it is left, the
answer is "nothing short of float meets the budget" and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .layer_error import worst_layer

# int8 is worth ~48 dB (6 per bit); above 100 dB the error is float32 rounding (146 dB for the
# tutorial CNN's max-pool in TFLite): the layer's int8 output equals its float output
NO_ERROR_DB = 100.0


@dataclass(frozen=True)
class Fallback:
    """The loop's outcome: the model (None when the budget cannot be met) and every step."""

    model: bytes | None
    error: dict  # the per-layer error of the last model tried
    float_layers: list[str]
    steps: list[dict]  # per step: float layers, validation score, the layer added next
    met: bool

    def to_json(self, budget: float) -> dict:
        """The manifest's record of the search."""
        return {"max_drop": budget, "met": self.met, "float_layers": self.float_layers,
                "steps": self.steps, "from": "validation split"}


def accuracy_aware(build: Callable[[list[str]], tuple[bytes, dict]],
                   evaluate: Callable[[bytes], dict], budget: float,
                   first: tuple[bytes, dict] | None = None, weighted: frozenset = frozenset()
                   ) -> Fallback:
    """Run the loop. ``build(float_layers) -> (model, layer error)``; ``evaluate(model)`` scores it.

    ``first``: the already built all-int8 ``build([])``, to save one conversion; ``weighted``:
    the Keras layers with weights, candidates even when ONNX's estimate sees no added error
    (a dense layer averages its input's noise down: its output can be less noisy than its input).
    """
    float_layers: list[str] = []
    steps: list[dict] = []
    model, error = first or build(float_layers)
    while True:
        scored = evaluate(model)
        step = {"float_layers": list(float_layers), "validation": scored}
        steps.append(step)
        if scored["drop_points"] <= budget:
            return Fallback(model, error, list(float_layers), steps, True)
        nxt = _next_layer(error, float_layers, weighted)
        if nxt is None:
            return Fallback(None, error, list(float_layers), steps, False)
        step["next"] = nxt
        float_layers.append(nxt)
        model, error = build(float_layers)


def _next_layer(error: dict, float_layers: list[str], weighted: frozenset) -> str | None:
    """The worst candidate, unless it is the last one: floating that too is all-float."""
    rows = [r for r in error["layers"] if (r["rank_db"] < NO_ERROR_DB or r["layer"] in weighted)
            and r["layer"] not in float_layers]
    return worst_layer({"layers": rows}, float_layers) if len(rows) > 1 else None
