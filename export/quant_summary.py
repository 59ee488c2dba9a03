"""The int8 summaries of one export that README and docs/export.md quote, from its manifest.

``python -m fmnist_edge.export.quant_summary EXPORT_DIR --update-readme README.md`` (what
``make quant-demo`` runs) writes full int8 against auto, the layer to blame and the calibration
into the ``quant-demo`` block; with ``--layers`` (what ``make export`` runs for both CNNs) it
writes the SQNR each layer adds in every calibrated file into the ``layers-<run>`` block. The
pages quote the run, nothing typed by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fmnist_edge.intervals import SCORED, accuracy_text, scored_cells
from fmnist_edge.runtime import cliutil, system
from fmnist_edge.tables import markdown_table

from .quant_report import layer_order

PROG = "python -m fmnist_edge.export.quant_summary"


def summary(manifest: dict) -> str:
    """Markdown: per format, full int8 vs auto (test figures, float layers, latency ratio)."""
    by_name = {(e["format"], e["quantization"]): e for e in manifest["artifacts"]}
    rows = []
    for fmt in ("tflite", "onnx"):
        for quant in ("int8", "auto"):
            e = by_name.get((fmt, quant))
            if e is None or not e.get("check"):
                continue
            worst = (e.get("layer_error") or {}).get("layers") or [{}]
            latency = e.get("latency_us", {}).get("ratio")
            check = e["check"]
            rows.append([e["file"], *scored_cells(check),
                         ", ".join(e.get("float_layers", [])) or "none",
                         f"{worst[0].get('layer', '–')} {worst[0].get('rank_db', float('nan')):.1f} dB",
                         f"{latency:.2f}×" if latency else "–",
                         (e.get("calibration") or {}).get("method", "–") + " "
                         + str((e.get("calibration") or {}).get("samples", ""))])
    check = next(e["check"] for e in manifest["artifacts"] if e.get("check"))
    table = markdown_table(["file", "test " + SCORED[0], *SCORED[1:], "float layers", "worst quantized layer (SQNR)",
                            "latency vs full int8", "calibration"], rows, "lrrlrllrl")
    return (f"{table}\n\nKeras float: {accuracy_text(check['reference_accuracy'], check.get('reference_accuracy_ci'))} "
            f"% on the {check.get('test_images', 10000):,} test images; ± and [ ] are 95 % intervals, the drop "
            "paired (docs/benchmarks.md#reading-the-intervals). "
            f"Export of {manifest['created']} on {system.machine_summary()}; "
            "latency: batch-1, one thread, interleaved in the same run.")


def layer_matrix(manifest: dict) -> str:
    """Markdown: the SQNR (dB) each layer adds, one column per calibrated file, layers in model order.

    "float" marks a layer the file keeps in float; the last rows are the file's test drop and the
    layers ``auto`` floated, so "auto keeps everything int8" can be read off the table.
    """
    entries = [e for e in manifest["artifacts"] if e.get("layer_error")]
    if not entries:
        return "No calibrated (int8, mixed, auto) file in this export."
    columns = [({r["layer"]: r["rank_db"] for r in e["layer_error"]["layers"]},
                set(e["layer_error"]["float_layers"])) for e in entries]
    rows = [[layer] + ["float" if layer in floats else f"{sqnr[layer]:.1f}" if layer in sqnr else "–"
                       for sqnr, floats in columns]
            for layer in layer_order(entries)]
    rows.append(["test drop pt"] + [f"{e['check']['drop_points']:+.2f}" if e.get("check") else "–"
                                    for e in entries])
    rows.append(["float layers"] + [", ".join(e["layer_error"]["float_layers"]) or "none" for e in entries])
    images = sorted({e["layer_error"]["images"] for e in entries})
    return (markdown_table(["layer"] + [e["file"] for e in entries], rows, "l" + "r" * len(entries))
            + f"\n\nSQNR of the error each layer adds in dB (higher is better; TFLite layer-wise, ONNX "
            f"estimated from the accumulated error; 200 = nothing measurable), on "
            f"{'/'.join(map(str, images))} validation images. `auto` budget: "
            f"{_budget(entries)} points. Export of {manifest['created']} on {system.machine_summary()}.")


def _budget(entries: list[dict]) -> str:
    budgets = sorted({e["fallback"]["max_drop"] for e in entries if e.get("fallback")})
    return "/".join(f"{b:g}" for b in budgets) or "–"


def main(argv: list[str] | None = None) -> int:
    """Print the summary of EXPORT_DIR; ``--update-readme`` also writes its block."""
    p = cliutil.ArgumentParser(prog=PROG, description=summary.__doc__)
    p.add_argument("export_dir", metavar="EXPORT_DIR", help="an export folder (manifest.json)")
    p.add_argument("--layers", action="store_true",
                   help="the SQNR each layer adds in every calibrated file, into the "
                        "layers-<run> block (run: the folder EXPORT_DIR is in)")
    p.add_argument("--update-readme", metavar="FILE", default=None,
                   help="write the summary between <!-- quant-demo:begin/end --> in FILE "
                        "(with --layers: <!-- layers-<run>:begin/end -->)")
    args = p.parse_args(argv)
    block = f"layers-{Path(args.export_dir).resolve().parent.name}" if args.layers else "quant-demo"

    def action() -> int:
        from fmnist_edge.readme import check_block, replace_block
        from fmnist_edge.runtime.errors import FmnistError
        from fmnist_edge.runtime.manifest import read_manifest

        if args.update_readme:
            check_block(args.update_readme, block)
        manifest = read_manifest(args.export_dir)
        if manifest is None:
            raise FmnistError(f"{args.export_dir}: no manifest.json (run fmnist-export first)")
        text = layer_matrix(manifest) if args.layers else summary(manifest)
        print(text)
        if args.update_readme:
            replace_block(args.update_readme, block, text)
        return 0

    return cliutil.run(PROG, action)


if __name__ == "__main__":
    sys.exit(main())
