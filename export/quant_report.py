"""The export report's int8 sections: per-layer error, the auto fallback, the calibration choice.

``report.md`` in the export folder (written by ``fmnist-export``) holds the artifacts table and
these sections; ``layer_error.png`` and ``calibration.png`` beside it are their plots.
"""

from __future__ import annotations

from pathlib import Path

from fmnist_edge.intervals import SCORED as SCORED_CELLS
from fmnist_edge.intervals import scored_cells
from fmnist_edge.tables import markdown_table

from .layer_error import layer_table


def int8_sections(manifest: dict) -> str:
    """Markdown: per-layer tables (worst first), auto's steps and latency, calibration table."""
    parts = []
    for entry in manifest["artifacts"]:
        error = entry.get("layer_error")
        if error:
            parts.append(f"### {entry['file']}: error per layer (worst first)\n\n"
                         f"{error['images']} validation images, {error['method']}."
                         + (f" Float layers: {', '.join(error['float_layers'])}."
                            if error["float_layers"] else "") + f"\n\n{layer_table(error)}")
        if entry.get("fallback"):
            parts.append(_fallback(entry))
    for record in manifest.get("not_written", []):
        parts.append(f"### {record['file']}: not written\n\nNo int8 model kept the validation "
                     f"drop within {record['max_drop']} points short of all-float.\n\n"
                     + _steps(record["steps"]))
    searches = {e["format"]: e["calibration_search"] for e in manifest["artifacts"]
                if e.get("calibration_search")}
    for fmt, search in searches.items():
        parts.append(f"### {fmt}: calibration settings on the validation split\n\n"
                     f"Kept: {search['best']}."
                     + (f" {_noise_words(search['noise'])}" if search.get("noise") else "")
                     + f"\n\n{calibration_table(search)}")
    return "\n\n".join(parts)


def _fallback(entry: dict) -> str:
    fb, latency = entry["fallback"], entry["latency_us"]
    layers = ", ".join(entry["float_layers"]) or "none (full int8)"
    return (f"### {entry['file']}: --quantize auto --max-drop {fb['max_drop']}\n\n"
            f"Float layers: {layers}. Batch-1 latency {latency['auto']:.1f} µs against "
            f"{latency['full_int8']:.1f} µs for full int8 ({latency['ratio']:.2f}×, "
            f"this machine, one thread). {budget_words(fb.get('budget'))}"
            + (f" {_noise_words(fb['noise'])}" if fb.get("noise") else "")
            + "\n\n" + _steps(fb["steps"]))


def budget_words(check: dict | None) -> str:
    """The budget on the point estimate and at the paired interval's upper end, in words."""
    if not check:
        return ""
    point = "holds" if check["holds"] else "does not hold"
    if check.get("holds_at_upper_end") is None:
        return f"The budget {point} on the validation drop ({check['drop_points']:+.2f} points)."
    upper = "holds there too" if check["holds_at_upper_end"] else "does not"
    return (f"The budget of {check['max_drop']} points {point} on the validation drop's point "
            f"estimate ({check['drop_points']:+.2f}); at its 95 % interval's upper end "
            f"({check['upper_end_points']:+.2f}) it {upper}.")


def _noise_words(note: dict) -> str:
    counts = ("" if note.get("p_value") is None else
              f" (the two disagree on {note['only_best_right'] + note['only_kept_right']} images: "
              f"{note['only_best_right']} only the point estimate's winner gets right, "
              f"{note['only_kept_right']} only the kept one; exact McNemar p = {note['p_value']:.2g})")
    return f"Within the noise: {note['why']}{counts}."


SCORED = ["validation " + SCORED_CELLS[0], *SCORED_CELLS[1:]]


def _steps(steps: list[dict]) -> str:
    rows = [[i + 1, ", ".join(s["float_layers"]) or "none", *scored_cells(s["validation"]),
             s.get("next", "–")] for i, s in enumerate(steps)]
    return markdown_table(["step", "float layers", *SCORED, "next to float"], rows, "rlrrlrl")


def calibration_table(search: dict) -> str:
    """Every calibration setting with its validation drop and agreement."""
    rows = [[r["method"], r["samples"], "on" if r["per_channel"] else "off", *scored_cells(r["validation"]),
             _mark(r["label"], search)] for r in search["settings"]]
    return markdown_table(["method", "images", "per-channel", *SCORED, ""], rows, "lrlrrlrl")


def _mark(label: str, search: dict) -> str:
    kept, point = search["best"], search.get("best_by_point_estimate", search["best"])
    return ("kept" if label == kept else "") + (", " if label == kept == point else "") \
        + ("lowest drop" if label == point else "")


def plot_layer_error(manifest: dict, path: Path) -> Path | None:
    """SQNR per layer of every quantized file, TFLite and ONNX on one chart (model order)."""
    from fmnist_edge import plotting

    entries = [e for e in manifest["artifacts"] if e.get("layer_error")]
    if not entries or not plotting.available():
        return None
    order = layer_order(entries)
    plt = plotting.pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for entry in entries:
        rows = {r["layer"]: r for r in entry["layer_error"]["layers"]}
        xs = [i for i, layer in enumerate(order) if layer in rows]
        ys = [min(rows[order[i]]["rank_db"], 80) for i in xs]
        style = "-o" if entry["format"] == "tflite" else "--s"
        ax.plot(xs, ys, style, label=f"{entry['file']} ({'layer-wise' if entry['format'] == 'tflite' else 'added, est.'})")
    ax.set_xticks(range(len(order)), order, rotation=30, ha="right")
    ax.set_ylabel("SQNR of the error the layer adds, dB (capped at 80)")
    ax.set_title("int8 error per layer (lower is worse)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return plotting.save(fig, plt, path)


def layer_order(entries: list[dict]) -> list[str]:
    """Keras layer names of these entries in model order (then any layer only their rows name).

    Each entry's run order is merged in: a layer the others lack goes before the next layer they
    share (ONNX measures the edge CNN's bn1, which TFLite folds into act1's op: bn1 comes first).
    """
    order: list[str] = []
    for sequence in [e["layer_error"].get("order", []) for e in entries] + \
            [[r["layer"] for r in e["layer_error"]["layers"]] for e in entries]:
        for i, layer in enumerate(sequence):
            if layer in order:
                continue
            after = next((order.index(x) for x in sequence[i + 1:] if x in order), len(order))
            order.insert(after, layer)
    return order


def plot_calibration(manifest: dict, path: Path) -> Path | None:
    """Validation drop of every calibration setting, one bar per setting, per format."""
    from fmnist_edge import plotting

    searches = {e["format"]: e["calibration_search"] for e in manifest["artifacts"]
                if e.get("calibration_search")}
    if not searches or not plotting.available():
        return None
    plt = plotting.pyplot()
    fig, axes = plt.subplots(1, len(searches), figsize=(5 + 4 * len(searches), 4.5), squeeze=False)
    for ax, (fmt, search) in zip(axes[0], searches.items()):
        rows = search["settings"]
        ax.barh(range(len(rows)), [r["validation"]["drop_points"] for r in rows],
                color=["C2" if r["label"] == search["best"] else "C0" for r in rows])
        ax.set_yticks(range(len(rows)), [r["label"] for r in rows], fontsize=7)
        ax.set_xlabel("validation drop, points (Keras − int8)")
        ax.set_title(f"{fmt}: calibration settings")
        ax.invert_yaxis()
    return plotting.save(fig, plt, path)
