"""modelport.libsvm:MulticlassProbability: the kernels' libsvm loop against ONNX Runtime running
the function's body (the unrolled iteration), in double, on pair probabilities from
consistent to contradictory ones (which take many iterations to settle), clipped to
[1e-7, 1 - 1e-7] as libsvm clips them."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from helpers import compile_and_check
from modelport.passes.ml_to_tensor import _svm_probability
from modelport.passes.ml_to_tensor._builder import Builder


def coupling_model(C: int) -> onnx.ModelProto:
    b = Builder({"r"}, 18)
    p = _svm_probability.function_node(b, "r", C)
    b.op("Identity", p, out="p")
    P = C * (C - 1) // 2
    graph = helper.make_graph(b.nodes, "coupling", [helper.make_tensor_value_info("r", TensorProto.DOUBLE, ["N", P])],
                              [helper.make_tensor_value_info("p", TensorProto.DOUBLE, ["N", C])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    _svm_probability.add_functions(model)
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize("C", [2, 3, 5])
def test_kernels_run_libsvm_loop_as_the_function_body(tmp_path, C):
    rng = np.random.RandomState(C)
    P = C * (C - 1) // 2
    rows = np.concatenate([rng.uniform(0, 1, (150, P)), rng.choice([1e-7, 1 - 1e-7, 0.5, 0.999], (50, P)),
                           1 / (1 + np.exp(rng.standard_normal((50, P)) * 6))])
    rows = np.clip(rows, 1e-7, 1 - 1e-7)
    path = tmp_path / "rows.csv"
    header = ["r"] if P == 1 else [f"r_{i}" for i in range(P)]  # a one-wide tensor is one column
    path.write_text(",".join(header) + "\n" +
                    "\n".join(",".join(repr(float(v)) for v in r) for r in rows) + "\n")
    compile_and_check(coupling_model(C), tmp_path, data=path)
    checks = json.loads((tmp_path / "out" / "parity.json").read_text())["checks"]
    assert {c["precision"] for c in checks} == {"float64"} and {c["rows"] for c in checks} == {len(rows)}
