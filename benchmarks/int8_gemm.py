"""The int8 GEMM ceiling of this CPU: one onnxruntime float32 ``MatMul`` against one ``DynamicQuantizeMatMul``.

``swiftcls export --to onnx --onnx_quantize int8`` graphs run their weight MatMuls as ``DynamicQuantizeMatMul``
(quantize the activations per call, int8 GEMM, rescale). How much faster that is than float32 bounds what int8 can
give a whole model on a CPU: without AVX-512 VNNI expect at most about x2. Prints GFLOP/s (best of 3) per shape for
float32, int8 with QInt8 and QUInt8 weights, and ``torch.matmul``.

Example::

    OMP_NUM_THREADS=1 python benchmarks/int8_gemm.py
"""

from __future__ import annotations

import os
import time

import numpy as np
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

SHAPES = [(512, 384, 1536), (512, 1536, 384), (512, 576, 1536), (512, 1536, 576), (2048, 2048, 2048)]


def session(m: int, k: int, n: int, kind: str, threads: int, rng) -> ort.InferenceSession:
    """A one-node graph ``y = x @ W``: float32 ``MatMul``, or ``DynamicQuantizeMatMul`` with s8/u8 weights."""
    w = rng.standard_normal((k, n)).astype(np.float32) * 0.05
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])
    if kind == "fp32":
        nodes, inits = [helper.make_node("MatMul", ["x", "W"], ["y"])], [numpy_helper.from_array(w, "W")]
    else:
        dtype, zero = (np.int8, 0) if kind == "s8" else (np.uint8, 128)
        scale = np.float32(np.abs(w).max() / 127)
        nodes = [helper.make_node("DynamicQuantizeMatMul", ["x", "Wq", "s", "zp"], ["y"], domain="com.microsoft")]
        inits = [numpy_helper.from_array((np.round(w / scale) + zero).astype(dtype), "Wq"),
                 numpy_helper.from_array(np.array(scale, np.float32), "s"),
                 numpy_helper.from_array(np.array(zero, dtype=dtype), "zp")]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def best_seconds(fn, reps: int) -> float:
    fn()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - start) / reps)
    return best


def main() -> None:
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    print(f"threads {threads}, load average {os.getloadavg()}")
    for m, k, n in SHAPES:
        x = rng.standard_normal((m, k)).astype(np.float32)
        flops, seconds = 2 * m * k * n, {}
        reps = max(3, int(2e9 / flops))
        for kind in ("fp32", "s8", "u8"):
            sess = session(m, k, n, kind, threads, rng)
            seconds[kind] = best_seconds(lambda s=sess, x=x: s.run(None, {"x": x}), reps)
        tx, tw = torch.from_numpy(x), torch.randn(k, n)
        seconds["torch"] = best_seconds(lambda a=tx, b=tw: torch.matmul(a, b), reps)
        rates = ", ".join(f"{kind} {flops / s / 1e9:.1f}" for kind, s in seconds.items())
        print(f"{m}x{k}x{n}: GFLOP/s {rates}; int8 (s8) / fp32 x{seconds['fp32'] / seconds['s8']:.2f}")


if __name__ == "__main__":
    main()
