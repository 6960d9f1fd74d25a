"""The IR: checking, constant folding, batched/constant classification, clear refusals."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelport import ir
from modelport.errors import UnsupportedError, UsageError


def model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    return m


def test_load_rejects_invalid_graph():
    bad = model([helper.make_node("Add", ["x", "missing"], ["y"])],
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])])
    with pytest.raises(UsageError, match="not valid"):
        ir.load(bad)


def test_folds_constants_and_measures_rows():
    shape = numpy_helper.from_array(np.array([-1, 4], np.int64), "shape")
    two = numpy_helper.from_array(np.array([2.0], np.float32), "two")
    m = model([helper.make_node("Mul", ["two", "two"], ["four"]),
               helper.make_node("Reshape", ["x", "shape"], ["r"]),
               helper.make_node("Mul", ["r", "four"], ["y"])],
              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 2])],
              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], [shape, two])
    g = ir.build_graph(ir.load(m))
    assert [n.op_type for n in g.nodes] == ["Reshape", "Mul"]
    assert g.tensors["four"].value.tolist() == [4.0]
    assert g.tensors["r"].batched and g.tensors["r"].shape == (4,)
    assert g.tensors["x"].shape == (2, 2)


def test_refuses_values_across_rows():
    m = model([helper.make_node("Transpose", ["x"], ["y"], perm=[1, 0])],
              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, "N"])])
    with pytest.raises(UnsupportedError, match="Transpose node"):
        ir.build_graph(ir.load(m))


def test_refuses_dynamic_row_shape():
    m = model([helper.make_node("Relu", ["x"], ["y"])],
              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "F"])],
              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "F"])])
    with pytest.raises(UnsupportedError, match="static row shape"):
        ir.build_graph(ir.load(m))


def test_unsupported_op_names_op_opset_and_alternatives(tmp_path):
    from modelport.lower import lower
    m = model([helper.make_node("Det", ["x"], ["y"])],
              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 2])],
              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])])
    g = ir.build_graph(ir.load(m))
    with pytest.raises(UnsupportedError) as e:
        lower(g, "m")
    msg = str(e.value)
    assert "ai.onnx:Det" in msg and "opset 18" in msg and "onnx" in msg and "Add" in msg
