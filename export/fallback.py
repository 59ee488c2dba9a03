"""``--quantize auto``: int8 with the fewest float layers that keep the validation drop in budget.

The loop, the same for both formats: quantize everything, score on the validation split; while
the drop is over budget, keep in float the quantized layer whose own error is worst (re-measured
on the current model, since a float layer changes what the next one receives) and try again.
Candidates are the layers with weights (convolutions, dense layers) and any other layer that adds
measurable error; max-pool and reshape (above 100 dB: float rounding) never are. The last
candidate is never floated (that model is float32 with extra steps): when only it is left, the
answer is "nothing short of float meets the budget" and nothing is written.

The budget is a point estimate on 5,000 images, so the step that meets it may win by a few
images only. Then the cheapest earlier step that is not measurably worse than it (paired, see
.noise) and whose drop is not measurably over the budget (its interval's lower end within it)
is kept instead, and the record says so: a float layer is slower on every call, and a
difference of a few validation images would not repeat on the test set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import noise
from .layer_error import worst_layer

# int8 is worth ~48 dB (6 per bit); above 100 dB the error is float32 rounding (146 dB for the
# tutorial CNN's max-pool in TFLite): the layer's int8 output equals its float output
NO_ERROR_DB = 100.0


@dataclass(frozen=True)
class Fallback:
    """The loop's outcome: the model (None when the budget cannot be met) and every step."""

    model: bytes | None
    error: dict  # the per-layer error of the model kept (else of the last one tried)
    float_layers: list[str]
    steps: list[dict]  # per step: float layers, validation score, the layer added next
    met: bool
    kept: int | None = None  # the step kept (None: nothing met the budget)
    noise: dict | None = None  # why an earlier step than the one meeting the budget was kept

    def to_json(self, budget: float) -> dict:
        """The manifest's record of the search."""
        budget_check = noise.budget_check(self.steps[self.kept]["validation"], budget) \
            if self.kept is not None else None
        return {"max_drop": budget, "met": self.met, "float_layers": self.float_layers,
                "steps": self.steps, "from": "validation split", "kept_step": self.kept,
                "budget": budget_check, "noise": self.noise}


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
    tried: list[tuple] = []  # (model, error, float layers, score with its per-image answers)
    model, error = first or build(float_layers)
    while True:
        scored = evaluate(model)
        tried.append((model, error, list(float_layers), scored))
        step = {"float_layers": list(float_layers), "validation": noise.public(scored)}
        steps.append(step)
        if scored["drop_points"] <= budget:
            return _keep(tried, steps, budget)
        nxt = _next_layer(error, float_layers, weighted)
        if nxt is None:
            return Fallback(None, error, list(float_layers), steps, False)
        step["next"] = nxt
        float_layers.append(nxt)
        model, error = build(float_layers)


def _keep(tried: list[tuple], steps: list[dict], budget: float) -> Fallback:
    """The cheapest step within the noise of the last one (which met the budget)."""
    last = len(tried) - 1
    for j in range(last):
        score, met = tried[j][3], tried[last][3]
        interval = (score.get("paired") or {}).get("drop_ci_points")
        if interval is None or interval[0] > budget or noise.told_worse(score, met):
            continue
        why = (f"step {j + 1} kept: its validation accuracy cannot be told from step {last + 1}'s, "
               f"which met the budget, and its drop is not measurably over {budget} points")
        model, error, layers, _ = tried[j]
        return Fallback(model, error, layers, steps, True, j, noise.note(score, met, why))
    model, error, layers, _ = tried[last]
    return Fallback(model, error, layers, steps, True, last)


def _next_layer(error: dict, float_layers: list[str], weighted: frozenset) -> str | None:
    """The worst candidate, unless it is the last one: floating that too is all-float."""
    rows = [r for r in error["layers"] if (r["rank_db"] < NO_ERROR_DB or r["layer"] in weighted)
            and r["layer"] not in float_layers]
    return worst_layer({"layers": rows}, float_layers) if len(rows) > 1 else None
