"""The README's int8 summary of one export: full int8 against auto, the layer to blame, calibration.

``python -m fmnist_edge.export.quant_summary EXPORT_DIR --update-readme README.md`` (what
``make quant-demo`` runs) writes it into the ``quant-demo`` block from the export's manifest, so
the README quotes the run and nothing typed by hand.
"""

from __future__ import annotations

import argparse
import platform
import sys

from fmnist_edge.runtime import cliutil
from fmnist_edge.tables import markdown_table

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
            rows.append([e["file"], f"{e['check']['accuracy'] * 100:.2f}",
                         f"{e['check']['drop_points']:+.2f}", f"{e['check']['agreement'] * 100:.2f}",
                         ", ".join(e.get("float_layers", [])) or "none",
                         f"{worst[0].get('layer', '–')} {worst[0].get('rank_db', float('nan')):.1f} dB",
                         f"{latency:.2f}×" if latency else "–",
                         (e.get("calibration") or {}).get("method", "–") + " "
                         + str((e.get("calibration") or {}).get("samples", ""))])
    reference = next(e["check"]["reference_accuracy"] for e in manifest["artifacts"] if e.get("check"))
    table = markdown_table(["file", "test accuracy %", "drop pt", "agreement %", "float layers",
                            "worst quantized layer (SQNR)", "latency vs full int8", "calibration"],
                           rows, "lrrrllrl")
    return (f"{table}\n\nKeras float: {reference * 100:.2f} % on the 10,000 test images. "
            f"Export of {manifest['created']} on {_cpu()}; "
            "latency: batch-1, one thread, interleaved in the same run.")


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return f"{names[0]}, {len(names)} cores" if names else platform.machine()
    except OSError:
        return platform.machine()


def main(argv: list[str] | None = None) -> int:
    """Print the summary of EXPORT_DIR; ``--update-readme`` also writes its block."""
    p = cliutil.ArgumentParser(prog=PROG, description=summary.__doc__)
    p.add_argument("export_dir", metavar="EXPORT_DIR", help="an export folder (manifest.json)")
    p.add_argument("--update-readme", metavar="FILE", default=None,
                   help="write the summary between <!-- quant-demo:begin/end --> in FILE")
    args = p.parse_args(argv)

    def action() -> int:
        from fmnist_edge.readme import check_block, replace_block
        from fmnist_edge.runtime.errors import FmnistError
        from fmnist_edge.runtime.manifest import read_manifest

        if args.update_readme:
            check_block(args.update_readme, "quant-demo")
        manifest = read_manifest(args.export_dir)
        if manifest is None:
            raise FmnistError(f"{args.export_dir}: no manifest.json (run fmnist-export first)")
        text = summary(manifest)
        print(text)
        if args.update_readme:
            replace_block(args.update_readme, "quant-demo", text)
        return 0

    return cliutil.run(PROG, action)


if __name__ == "__main__":
    sys.exit(main())
