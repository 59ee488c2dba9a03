"""The gallery's records as tables: each model's export, and layer types × formats × engines."""

from __future__ import annotations

from fmnist_edge.intervals import accuracy_text
from fmnist_edge.runtime.formats import FORMATS, Format, quantization_label
from fmnist_edge.tables import markdown_table


def support_table(records: list[dict]) -> str:
    """Markdown: per layer type (the probes) what each engine ran and refused, then the models."""
    probes = [r for r in records if r.get("probe")]
    models = [r for r in records if not r.get("probe")]
    return "\n\n".join(t for t in (layer_table(probes) if probes else "",
                                    model_table(models) if models else "") if t)


def model_table(records: list[dict]) -> str:
    """One row per gallery model: its layers, size, Keras accuracy and what the export did."""
    rows = []
    for r in records:
        keras = next((f for f in r["files"] if f["keras_accuracy"]), None)
        skipped = "; ".join(f"{s['file']} ({s['reason']})" for s in r["skipped"]) or "none"
        rows.append([r["model"], ", ".join(r["layers"]), f"{r['params']:,}",
                     accuracy_text(keras["keras_accuracy"], keras.get("keras_accuracy_ci")) if keras else "–",
                     str(r["exit"]), str(len(r["files"])),
                     skipped, _engines(r)])
    return markdown_table(["model", "layer types", "params", "Keras test % ±95 %", "export exit",
                           "files", "skipped", "engines"], rows, "llrrrrll")


def _engines(record: dict) -> str:
    """Every engine's verdict on the model's files: ✓, or what it refused."""
    cells = []
    for fmt in FORMATS:
        for engine in dict.fromkeys(e for f in record["files"] if f["format"] == fmt.value
                                    for e in f["engines"]):
            cells.append(f"{engine} {_cell([record], fmt, engine)}")
    return "; ".join(cells) or "–"


def layer_table(records: list[dict]) -> str:
    """Per layer type (the union of the models that have it): per format, each engine's verdict."""
    columns = [(fmt, engine) for fmt, spec in FORMATS.items() for engine in
               dict.fromkeys(e for r in records for f in r["files"] if f["format"] == fmt.value
                             for e in f["engines"])]
    layers = list(dict.fromkeys(layer for r in records for layer in r["layers"]))
    rows = []
    for layer in layers:
        having = [r for r in records if layer in r["layers"]]
        skipped = sorted({quantization_label(s["quantization"]) + f" {s['format']}"
                          for r in having for s in r["skipped"]})
        rows.append([layer, ", ".join(skipped) or "–"]
                    + [_cell(having, fmt, engine) for fmt, engine in columns])
    header = ["layer type", "not exported"] + [f"{_format_name(fmt)} on {engine}"
                                               for fmt, engine in columns]
    return markdown_table(header, rows, "l" * len(header))


def _format_name(fmt: Format) -> str:
    return {Format.TFLITE: "TFLite", Format.ONNX: "ONNX"}.get(fmt, fmt.value)


def _cell(records: list[dict], fmt: Format, engine: str) -> str:
    """✓ when every file of ``fmt`` these models wrote ran on ``engine``; else what did not."""
    refused: dict[str, list[str]] = {}
    ran = 0
    for r in records:
        for f in r["files"]:
            result = f["engines"].get(engine) if f["format"] == fmt.value else None
            if result is None:
                continue
            if result["status"] == "ok":
                ran += 1
            else:
                label = quantization_label(f["quantization"])
                refused.setdefault(_short(result), [])
                if label not in refused[_short(result)]:
                    refused[_short(result)].append(label)
    if not ran and not refused:
        return "–"
    if not refused:
        return "✓"
    return ("✓ but " if ran else "") + "; ".join(
        f"{', '.join(labels)}: {why}" for why, labels in refused.items())


def _short(result: dict) -> str:
    """``refused (op LEAKY_RELU)`` from an engine's one-line refusal (its file path dropped)."""
    if result["status"] == "disagrees":
        return f"DISAGREES ({result['differ']} top-1)"
    parts = result["reason"].split(": ")
    return f"refused ({parts[1] if len(parts) > 2 else result['reason']})"
