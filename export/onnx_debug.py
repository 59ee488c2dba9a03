"""ONNX int8 error per Keras layer, from ONNX Runtime's ``qdq_loss_debug``.

``qdq_loss_debug`` saves every activation of the float and the QDQ model on the same images; the
SQNR of each quantized activation against the float model's (its ``xmodel_err``) is the error the
model has accumulated up to that layer. The error a layer *adds* is what ranks it: with relative
noise r = 10^(−SQNR/10), a layer adds r_out − r_in (a layer passes on its input's relative noise
and adds its own), reported as ``added_db`` = −10·log10(r_out − r_in); a layer whose output is
no noisier than its input (ReLU, max-pool) adds nothing measurable (200 dB, the cap).
``qdq_err`` (pre- vs post-QDQ of one tensor) is not used: where ReLU is fused into the QDQ pair
it counts the ReLU's clipping as error (0.09 dB on the tutorial CNN's convolution).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .layer_error import added_db, layer_of, ranked, sqnr_db

METHOD = "onnxruntime.quantization.qdq_loss_debug (activations vs the float model)"
BATCH = 100


def layer_nodes(model, layer_names) -> dict[str, list[str]]:
    """Keras layer → the names of its nodes in a (pre-processed) float ONNX model, in run order.

    A node tf2onnx's optimizer renamed (``Conv__25``: the depthwise conv of issue 32's model) is
    the one Keras layer without named nodes that lies between the layer feeding it and the layer
    it feeds, when exactly one does; otherwise it goes with the layer feeding it (a Reshape).
    """
    order = list(layer_names.values() if isinstance(layer_names, dict) else layer_names)
    direct = {node.name: layer_of(node.name, layer_names) or next(
        (layer_of(o, layer_names) for o in node.output if layer_of(o, layer_names)), None)
        for node in model.graph.node}
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    producer_layer: dict[str, str] = {}
    found: dict[str, list[str]] = {}
    for node in model.graph.node:
        fed_by = next((producer_layer[i] for i in node.input if i in producer_layer), None)
        layer = direct[node.name] or _between(order, fed_by, _next_named(node, consumers, direct),
                                              set(direct.values()))
        layer = layer or fed_by
        if layer:
            found.setdefault(layer, []).append(node.name)
            producer_layer.update({o: layer for o in node.output})
    return found


def _next_named(node, consumers: dict, direct: dict) -> str | None:
    """The layer of the first named node downstream of ``node`` (along first consumers)."""
    for _ in range(20):
        readers = [n for o in node.output for n in consumers.get(o, [])]
        if not readers:
            return None
        node = readers[0]
        if direct[node.name]:
            return direct[node.name]
    return None


def _between(order: list[str], before: str | None, after: str | None, named: set) -> str | None:
    """The one layer strictly between ``before`` and ``after`` in the model's order that has no
    node of its own name (its node was renamed), if exactly one."""
    if before not in order or after not in order:
        return None
    gap = [layer for layer in order[order.index(before) + 1:order.index(after)]
           if layer not in named]
    return gap[0] if len(gap) == 1 else None


def float_activations(float_path: Path, sample: np.ndarray, scratch: Path) -> dict:
    """Every float activation of the model on ``sample`` (computed once per export)."""
    return _activations(float_path, sample, scratch / "float-augmented.onnx")


def layer_error(float_model, qdq_path: Path, sample: np.ndarray, floats: dict, scratch: Path,
                layer_names, float_layers: list[str]) -> dict:
    """Ranked per-layer error of ``qdq_path`` (made from ``float_model``) on ``sample``."""
    quantized = _activations(qdq_path, sample, scratch / "qdq-augmented.onnx")
    from onnxruntime.quantization.qdq_loss_debug import create_activation_matching

    matched = create_activation_matching(quantized, floats)
    sqnr = {name: _sqnr(m["float"], m["post_qdq"]) for name, m in matched.items() if m.get("float")}
    producers = {o: node for node in float_model.graph.node for o in node.output}
    nodes = layer_nodes(float_model, layer_names)
    layer_by_node = {n: layer for layer, names in nodes.items() for n in names}
    rows = []
    for name, value in sqnr.items():
        node = producers.get(name)
        if node is None or node.name not in layer_by_node:
            continue  # the graph input's own QDQ pair, not a layer
        added = added_db(value, _input_sqnr(node, sqnr, producers))
        rows.append({"layer": layer_by_node[node.name], "tensor": name, "op": node.op_type,
                     "sqnr_db": round(value, 2), "added_db": round(added, 2),
                     "rank_db": round(added, 2)})
    return {"format": "onnx", "method": METHOD, "images": int(len(sample)),
            "from": "validation split", "float_layers": list(float_layers),
            "order": list(nodes), "layers": ranked(rows)}


def _activations(path: Path, sample: np.ndarray, augmented: Path) -> dict:
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (collect_activations,
                                                         modify_model_output_intermediate_tensors)

    modify_model_output_intermediate_tensors(str(path), str(augmented))
    name = onnx.load(str(path)).graph.input[0].name
    batches = [{name: sample[i:i + BATCH]} for i in range(0, len(sample), BATCH)]
    return collect_activations(str(augmented), iter(batches))


def _sqnr(reference: list, measured: list) -> float:
    a = np.concatenate([np.ravel(x) for x in reference]).astype(np.float64)
    b = np.concatenate([np.ravel(x) for x in measured]).astype(np.float64)
    return sqnr_db(float(np.sum(a * a)), float(np.sum((a - b) ** 2)))


def _input_sqnr(node, sqnr: dict, producers: dict) -> float:
    """The SQNR of the data reaching ``node``: walk back over unquantized nodes to a measured one."""
    seen = 0
    while node is not None and seen < 100:
        data = node.input[0] if node.input else None
        if data in sqnr:
            return sqnr[data]
        node, seen = producers.get(data), seen + 1
    return 200.0  # the graph input: x/255 on a 1/255 uint8 grid is exact
