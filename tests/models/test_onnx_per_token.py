"""Per-token int8 products (swiftcls/models/onnx_per_token.py): one activation scale per token keeps the other
tokens exact to int8 precision when one token carries an outlier, where one scale per tensor does not."""

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

from swiftcls.models.onnx_per_token import per_token_int8


def _graph(w: np.ndarray):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None, w.shape[0]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, w.shape[1]])
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="/layers.0/mlp/down_proj/MatMul")
    graph = helper.make_graph([node], "g", [x], [y], [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["y"], {"x": x})[0]


def test_per_token_int8_holds_the_tokens_next_to_an_outlier_token(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 32)).astype(np.float32)
    x = rng.normal(size=(2, 5, 64)).astype(np.float32)
    x[0, 0] *= 500  # one token orders of magnitude above the rest, as a decoder's gated MLP product has
    exact = x @ w
    model = _graph(w)
    assert per_token_int8(model, ["/layers.0/mlp/down_proj/MatMul", "/not/in/graph"]) == 1
    assert {n.op_type for n in model.graph.node} >= {"ReduceMax", "MatMulInteger"}
    assert "w" not in {i.name for i in model.graph.initializer}  # the float weight is gone
    per_token = _run(model, x)
    onnx.save(_graph(w), str(tmp_path / "f.onnx"))
    quantize_dynamic(str(tmp_path / "f.onnx"), str(tmp_path / "q.onnx"), weight_type=QuantType.QInt8,
                     per_channel=True)
    per_tensor = _run(onnx.load(str(tmp_path / "q.onnx")), x)

    def error(y):  # relative error on the ordinary tokens
        return float(np.abs(y - exact)[:, 1:].max() / np.abs(exact[:, 1:]).max())

    assert error(per_token) < 0.02 and error(per_tensor) > 5 * error(per_token)
    assert np.abs(per_token - exact)[0, 0].max() / np.abs(exact[0, 0]).max() < 0.02  # the outlier token too
