"""int8 matrix products with one activation scale per token, for inputs whose outliers sit in a few tokens.

onnxruntime's dynamic quantizer gives a product's input one int8 scale per tensor (per batch). A decoder MLP's
``down_proj`` input, the gated product, has a few tokens with values orders of magnitude above the rest, so one scale
leaves the other tokens a handful of int8 steps (SmolLM2 on SST-2 lost 16 accuracy points). Here each such ``MatMul``
with a constant weight becomes standard ONNX ops: per token ``s = max|x| / 127`` (``ReduceMax``), ``x / s`` rounded
and shifted by 128 into uint8 (a constant zero point, so onnxruntime runs its fast u8 x s8 kernel), ``MatMulInteger``
with int8 weights (one scale per output column), then the int32 result times both scales.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_SHARED = {"per_token_127": 127.0, "per_token_eps": 1e-12, "per_token_128": 128.0}


def per_token_int8(model, node_names: Sequence[str]) -> int:
    """Rewrite the named float ``MatMul`` nodes of an ONNX ``model`` (a ``ModelProto``) in place.

    Args:
        model: The loaded graph (weights included).
        node_names: ``MatMul`` nodes whose second input is a 2-D float initializer; others are left as they are.

    Returns:
        How many products were rewritten.
    """
    from onnx import TensorProto, helper, numpy_helper  # optional, see swiftcls.models.onnx

    graph, wanted = model.graph, set(node_names)
    weights = {i.name: i for i in graph.initializer}
    nodes, dropped, done = [], set(), 0
    for node in graph.node:
        weight = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) > 1 else None
        if node.name not in wanted or weight is None or len(weight.dims) != 2:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(weight).astype(np.float32)  # [in, out]
        scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0
        name = node.name.strip("/").replace("/", "_")
        graph.initializer.extend([
            numpy_helper.from_array(np.clip(np.round(w / scale), -127, 127).astype(np.int8), f"{name}_w_int8"),
            numpy_helper.from_array(scale.astype(np.float32), f"{name}_w_scale")])
        dropped.add(weight.name)
        x, t = node.input[0], f"{name}_pt"
        added = [
            helper.make_node("Abs", [x], [f"{t}_abs"]),
            helper.make_node("ReduceMax", [f"{t}_abs"], [f"{t}_max"], axes=[-1], keepdims=1),
            helper.make_node("Div", [f"{t}_max", "per_token_127"], [f"{t}_s0"]),
            helper.make_node("Max", [f"{t}_s0", "per_token_eps"], [f"{t}_s"]),  # an all-zero token
            helper.make_node("Div", [x, f"{t}_s"], [f"{t}_x"]),
            helper.make_node("Round", [f"{t}_x"], [f"{t}_r"]),  # in [-127, 127] by construction
            helper.make_node("Add", [f"{t}_r", "per_token_128"], [f"{t}_u"]),
            helper.make_node("Cast", [f"{t}_u"], [f"{t}_q"], to=TensorProto.UINT8),
            helper.make_node("MatMulInteger", [f"{t}_q", f"{name}_w_int8", "per_token_zero_point"], [f"{t}_i"]),
            helper.make_node("Cast", [f"{t}_i"], [f"{t}_f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{t}_f", f"{t}_s"], [f"{t}_y"]),
            helper.make_node("Mul", [f"{t}_y", f"{name}_w_scale"], list(node.output)),
        ]
        for i, added_node in enumerate(added):  # named after the product, so the graph still says what they compute
            added_node.name = f"{node.name}/per_token_{i}"
        nodes += added
        done += 1
    if done:
        still_used = {i for n in nodes for i in n.input}
        kept = [i for i in graph.initializer if i.name not in dropped or i.name in still_used]
        kept += [helper.make_tensor(k, TensorProto.FLOAT, [], [v]) for k, v in _SHARED.items()]
        kept.append(helper.make_tensor("per_token_zero_point", TensorProto.UINT8, [], [128]))
        del graph.initializer[:]
        graph.initializer.extend(kept)
        del graph.node[:]
        graph.node.extend(nodes)
    return done
