"""Every value of a graph made batch-first: its first dimension the batch, its others fixed.

The C++/Java kernels compile only such values (docs/architecture.md, IR). Converters write two
things that break this: shape arithmetic on the batch size (Shape -> ... -> Reshape for a
Flatten, -> Expand for the zero states of recurrent layers) and time-major recurrent layers
(Transpose to [time, batch, features] -> LSTM -> ...). Every value is measured in ONNX Runtime
at batch sizes 2 and 3; Reshape targets become constants (-1 for the batch); LSTM, GRU and RNN
nodes are unrolled over their fixed number of steps (batch_first_rnn.py); the values in between
get their batch axis moved to the front and the ops on them are written again to match
(batch_first_rules.py). A graph with a node the rules do not cover (a Loop, attention heads) is
kept as it is, with a note that says why: the onnx and TVM targets compile the ONNX graph as a
whole and do not need batch-first values.
"""
from __future__ import annotations

import numpy as np
import onnx

from ..errors import UnsupportedError
from ..ort_session import session
from .batch_first_rewrite import Refused, Rewriter


def run(proto: onnx.ModelProto) -> tuple[onnx.ModelProto, str | None]:
    """(The same model with the batch first in every value, checked by ONNX Runtime, None), or,
    where a node cannot be rewritten, (the model as it was, why)."""
    values = [o for node in proto.graph.node for o in node.output if o]
    rewrite = Rewriter(proto, measure(proto, 2, values), measure(proto, 3, values))
    if not rewrite.needed():
        return proto, None
    try:
        new = rewrite.rewrite()
    except Refused as exc:
        return proto, f"the graph is kept as converted, with values that do not keep the batch first: {exc}"
    _check_same_outputs(proto, new)
    return new, None


def measure(proto: onnx.ModelProto, n: int, extra=()) -> dict:
    """ONNX Runtime on `n` seeded rows: the graph outputs, then the `extra` values, and the inputs."""
    import onnxruntime as ort
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    names = [o.name for o in m.graph.output]
    for name in extra:
        if name not in names:
            m.graph.output.append(onnx.ValueInfoProto(name=name))
            names.append(name)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    feed = _feed(proto, n)
    try:
        sess = session(m, opts)
        values = dict(zip(names, sess.run(names, feed)))
    except Exception as exc:
        raise UnsupportedError(f"ONNX Runtime cannot run the converted graph on {n} rows: "
                               f"{_first_line(exc)}") from None
    return {**values, **feed}


def _feed(proto: onnx.ModelProto, n: int) -> dict:
    """Seeded rows for every input: normal floats, zero integers (valid ids for any table)."""
    rng = np.random.RandomState(n)
    stored = {i.name for i in proto.graph.initializer}  # an input with a stored default keeps it
    feed = {}
    for inp in proto.graph.input:
        if inp.name in stored:
            continue
        tt = inp.type.tensor_type
        shape = [n] + [d.dim_value for d in tt.shape.dim[1:]]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        feed[inp.name] = rng.normal(size=shape).astype(dtype) if dtype.kind == "f" else np.zeros(shape, dtype)
    return feed


def _check_same_outputs(before_proto: onnx.ModelProto, after_proto: onnx.ModelProto):
    """The rewritten graph must compute what the original computes (at batch sizes 3 and 2)."""
    before, after = measure(before_proto, 3), measure(after_proto, 3)
    measure(after_proto, 2)
    for o in before_proto.graph.output:
        a, b = np.asarray(before[o.name]), np.asarray(after[o.name])
        if a.dtype.kind in "OUSb" or b.dtype.kind in "OUSb":  # labels, strings, flags: equal
            same = a.shape == b.shape and bool(np.all(a == b))
        else:
            scale = max(1.0, float(np.nanmax(np.abs(a), initial=0.0)))
            same = a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5 * scale, equal_nan=True)
        if not same:
            raise UnsupportedError(f"moving the batch dimension first changed output {o.name!r} of the "
                                   "converted graph; this is a modelport bug: please report it with the model")


def _first_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
