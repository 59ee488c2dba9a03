"""A manifest as the table people read: format, quantization, size, accuracy, drop, agreement."""

from __future__ import annotations

from pathlib import Path

from fmnist_edge.intervals import SCORED, accuracy_text, scored_cells
from fmnist_edge.runtime.formats import Quantization, quantization_label
from fmnist_edge.tables import markdown_table


def artifacts_table(manifest: dict) -> str:
    """Markdown table of every artifact in ``manifest``; size ratio is against the float32 file."""
    float_size = {e["format"]: e["size_bytes"] for e in manifest["artifacts"]
                  if e["quantization"] == Quantization.NONE}
    rows = []
    for e in manifest["artifacts"]:
        base = float_size.get(e["format"])
        check = e.get("check")
        figures = ([*scored_cells(check), "pass" if check['passed'] else "FAIL"]
                   if check else ["–", "–", "–", "–", "not run"])
        rows.append([e["file"], e["format"], _quant_label(e), e["input"]["dtype"],
                     f"{e['size_bytes'] / 1024:.0f}",
                     f"{e['size_bytes'] / base * 100:.1f} %" if base else "–", *figures])
    table = markdown_table(["file", "format", "quantization", "input", "size KB", "vs float32",
                            "test " + SCORED[0], *SCORED[1:], "check"], rows, "llllrrrrlrl")
    check = next((e["check"] for e in manifest["artifacts"] if e.get("check")), None)
    if check is not None:
        table += (f"\n\nReference: the Keras float model, "
                  f"{accuracy_text(check['reference_accuracy'], check.get('reference_accuracy_ci'))} % "
                  f"on the same {check.get('test_images', 10000):,} test images; drop = reference − "
                  "artifact, in points, with its paired 95 % interval (Newcombe); \"within noise\": the "
                  "exact McNemar test cannot tell it from zero (p ≥ 0.05). The check compares the point "
                  "estimate with --max-drop.")
    for record in manifest.get("skipped", []):
        table += f"\n\nSkipped, not written: `{record['file']}`: {record['reason']}"
    return table


def write_report(manifest: dict, folder: Path, table: str) -> Path:
    """``report.md`` (+ ``layer_error.png``, ``calibration.png``) in the export folder."""
    from fmnist_edge.reports import write_markdown

    from .quant_report import int8_sections, plot_calibration, plot_layer_error

    plots = [p for p in (plot_layer_error(manifest, folder / "layer_error.png"),
                         plot_calibration(manifest, folder / "calibration.png")) if p]
    text = (f"# Export of {manifest['source']['file']}\n\n{table}\n\n"
            + "".join(f"![{p.stem}]({p.name})\n\n" for p in plots) + int8_sections(manifest))
    return write_markdown(folder, "report", text.rstrip() + "\n")


def _quant_label(entry: dict) -> str:
    label = quantization_label(entry["quantization"])
    if entry.get("activations"):
        weights = f", {entry['weights']} weights" if entry.get("weights") else ""
        label += f" ({entry['activations']} activations{weights})"
    return label
