"""A manifest as the table people read: format, quantization, size, accuracy, drop, agreement."""

from __future__ import annotations

from pathlib import Path

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
        figures = ([f"{check['accuracy'] * 100:.2f}", f"{check['drop_points']:+.2f}",
                    f"{check['agreement'] * 100:.2f}", "pass" if check['passed'] else "FAIL"]
                   if check else ["–", "–", "–", "not run"])
        rows.append([e["file"], e["format"], _quant_label(e), e["input"]["dtype"],
                     f"{e['size_bytes'] / 1024:.0f}",
                     f"{e['size_bytes'] / base * 100:.1f} %" if base else "–", *figures])
    table = markdown_table(["file", "format", "quantization", "input", "size KB", "vs float32",
                            "test accuracy %", "drop pt", "agreement %", "check"], rows, "llllrrrrrl")
    reference = next((e["check"]["reference_accuracy"] for e in manifest["artifacts"]
                      if e.get("check")), None)
    if reference is not None:
        table += (f"\n\nReference: the Keras float model, {reference * 100:.2f} % on the same "
                  f"10,000 test images; drop = reference − artifact, in points.")
    return table


def _quant_label(entry: dict) -> str:
    label = quantization_label(entry["quantization"])
    if entry.get("activations"):
        label += f" ({entry['activations']} activations)"
    return label


def export_and_report(model, config, out: str | Path | None = None, data: str | None = None,
                      progress=None, readme: str | None = None):
    """What ``fmnist-export`` does: export, print the table, write it into ``readme``'s block.

    A README without the block fails before anything is converted; a failed self-check raises
    CheckFailed (exit 1) after everything is written and reported.
    """
    from fmnist_edge.readme import check_block, replace_block

    from .pipeline import export_model

    if readme:
        check_block(readme, "exports")
    result = export_model(model, config, out, data, progress)
    table = artifacts_table(result.manifest)
    kept = len(result.manifest["artifacts"]) - len(result.written)
    print(f"fmnist-export: wrote {len(result.written)} models to {result.out_dir}/"
          + (f" (kept {kept} from the previous export of the same model)" if kept else "")
          + f"\n\n{table}")
    if readme:
        replace_block(readme, "exports", table)
    result.raise_on_failed_checks()
    return result
