"""PyTorch frontend: modules, exported programs (.pt2) and TorchScript (.pt) files, exported
with a dynamic batch and checked against the original model in PyTorch."""
from __future__ import annotations

import subprocess
import sys
import warnings

import modelport
import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from modelport.errors import UnsupportedError, UsageError
from modelport.frontends import load_source, pytorch
from modelport.parity import inputs as parity_inputs
from modelport.parity.compare import compare
from tests.helpers import compile_and_check

MODELPORT = [sys.executable, "-m", "modelport.cli"]


def seeded(cls, *args, **kwargs) -> nn.Module:
    torch.manual_seed(0)
    return cls(*args, **kwargs).eval()


def trace(model, x):
    """A TorchScript module (torch.jit.trace warns that it is deprecated in favour of torch.export)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.trace(model, x)


def ops_of(manifest_or_source) -> set:
    if isinstance(manifest_or_source, dict):
        return set(manifest_or_source["onnx"]["ops"])
    return {n.op_type for n in manifest_or_source.onnx.graph.node}


def assert_matches_torch(source, rows=64):
    """ONNX Runtime on the exported graph against the original model, by the parity report's rules
    (for graphs whose values do not all keep the batch first, which the compiler's IR refuses)."""
    proto = source.onnx
    table = parity_inputs.generate(source.schema, proto, rows, samples=source.hints.get("samples"))
    feed = parity_inputs.to_feed(table, source.schema, proto)
    expected = source.reference(feed)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feed)))
    assert set(got) == set(expected)
    for name, want in expected.items():
        result = compare("value", got[name].reshape(rows, -1), want.reshape(rows, -1))
        assert result["passed"], (name, result)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))

    def forward(self, features):
        return self.net(features)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.blocks = nn.Sequential(Block(8), Block(8))
        self.head = nn.Linear(8, 5)

    def forward(self, image):
        return self.head(self.blocks(torch.relu(self.stem(image))).mean(dim=(2, 3)))


class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 3)

    def forward(self, sequence):
        _, (h, _) = self.lstm(sequence)
        return self.fc(h[-1])


class GRUTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 12, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(24, 2)

    def forward(self, sequence):
        out, _ = self.gru(sequence)
        return self.fc(out[:, -1])


class TextCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 8)
        self.conv = nn.Conv1d(8, 12, 3)
        self.fc = nn.Linear(12, 2)

    def forward(self, tokens):
        h = torch.relu(self.conv(self.embed(tokens).transpose(1, 2)))
        return self.fc(h.max(dim=2).values)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True)

    def forward(self, x):
        return self.layer(x)


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 3), nn.Linear(6, 3)

    def forward(self, image, meta):
        z = self.a(image) + self.b(meta)
        return {"total": z.sum(dim=1, keepdim=True), "probs": torch.softmax(z, dim=1)}


class CumulativeMax(nn.Module):
    def forward(self, x):
        return torch.cummax(x, dim=1).values


class Scanner(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scan = CumulativeMax()

    def forward(self, x):
        return self.scan(self.fc(x))


class FixedBatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(x.view(4, -1))


def test_is_model_checks_classes_by_name():
    assert pytorch.is_model(MLP()) and pytorch.is_model(trace(MLP().eval(), torch.zeros(2, 4)))
    assert pytorch.is_model(torch.export.export(MLP(), (torch.zeros(2, 4),)))
    assert not pytorch.is_model(np.zeros(3)) and not pytorch.is_model(torch.zeros(3))
    assert not pytorch.is_model(type("Module", (), {"__module__": "mylib.nn"})())


def test_mlp_keeps_names_and_training_mode(tmp_path):
    model = seeded(MLP).train()  # dropout on: the reference and the export must switch it off
    x = torch.randn(16, 4)
    manifest = compile_and_check(model, tmp_path, targets=("cpp", "java", "tvm-llvm", "onnx"), example_inputs=(x,),
                                 rows=64)
    assert model.training and all(m.training for m in model.modules())
    schema = manifest["schema"]
    assert [c["name"] for c in schema["inputs"]] == [f"features_{i}" for i in range(4)]
    assert [c["name"] for c in schema["outputs"]] == [f"output_{i}" for i in range(3)]
    source = manifest["source"]
    assert source["framework"] == "pytorch" and source["converter"] == "torch.onnx (dynamo)"
    assert source["estimator"] == "MLP" and source["source_file"] is None
    assert ops_of(manifest) == {"Gemm", "Relu"}


def test_resnet_with_batchnorm_statistics(tmp_path):
    model = seeded(ResNet)
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    manifest = compile_and_check(model, tmp_path, targets=("tvm-llvm", "onnx"), example_inputs=(torch.randn(2, 3, 16, 16),),
                                 rows=64)
    assert len(manifest["schema"]["inputs"]) == 3 * 16 * 16
    # The exporter's optimizer folds BatchNorm into the convolutions.
    assert ops_of(manifest) == {"Add", "Conv", "Gemm", "ReduceMean", "Relu"}


def test_text_cnn_with_embedding_gets_valid_token_ids(tmp_path):
    source = load_source(seeded(TextCNN), example_inputs=(torch.randint(0, 50, (4, 20)),))
    samples = source.hints["samples"]
    assert set(samples) == {f"tokens_{i}" for i in range(20)}
    assert samples["tokens_0"] == {"values": list(range(50)), "exact": True}
    manifest = compile_and_check(source, tmp_path, targets=("tvm-llvm", "onnx"), rows=64)
    assert ops_of(manifest) == {"Conv", "Gather", "Gemm", "ReduceMax", "Relu", "Transpose"}


def test_two_inputs_two_outputs_keep_their_names(tmp_path):
    model = seeded(TwoHeads)
    manifest = compile_and_check(model, tmp_path, targets=("cpp", "java", "tvm-llvm", "onnx"),
                                 example_inputs=(torch.randn(3, 4), torch.randn(3, 6)), rows=64)
    names = [c["name"] for c in manifest["schema"]["inputs"]]
    assert names == [f"image_{i}" for i in range(4)] + [f"meta_{i}" for i in range(6)]
    assert [c["name"] for c in manifest["schema"]["outputs"]] == ["total"] + [f"probs_{i}" for i in range(3)]


@pytest.mark.parametrize("cls", [LSTMClassifier, GRUTagger])
def test_recurrent_models_compile_for_the_kernels(cls, tmp_path):
    """The exporter writes nn.LSTM/nn.GRU as time-major ONNX LSTM/GRU nodes with zero states built
    from the batch size; the frontend unrolls them over the 12 steps on batch-first values."""
    source = load_source(seeded(cls), example_inputs=(torch.randn(4, 12, 8),))
    assert not ops_of(source) & {"LSTM", "GRU", "Shape", "Expand"}, ops_of(source)
    assert "note" not in source.provenance
    assert [c.name for c in source.schema.inputs][-1] == "sequence_95"
    compile_and_check(source, tmp_path, targets=("cpp", "java", "tvm-llvm", "onnx"), rows=32)


def test_transformer_encoder_layer(tmp_path):
    source = load_source(seeded(Encoder), example_inputs=(torch.randn(4, 6, 16),))
    assert {"LayerNormalization", "MatMul", "Softmax"} <= ops_of(source)
    # Attention moves the batch off the first axis: the graph is kept as exported, and says why.
    assert "do not keep the batch first" in source.provenance["note"]
    assert len(source.schema.outputs) == 6 * 16
    assert_matches_torch(source)
    compile_and_check(source, tmp_path, targets=("tvm-llvm", "onnx"), rows=32)


def test_pt2_file_round_trip(tmp_path):
    model = seeded(MLP)
    x = torch.randn(8, 4)
    program = torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, tmp_path / "mlp.pt2")
    manifest = compile_and_check(tmp_path / "mlp.pt2", tmp_path, targets=("onnx",), rows=64)
    assert [c["name"] for c in manifest["schema"]["inputs"]] == [f"features_{i}" for i in range(4)]
    assert manifest["source"]["source_sha256"] and manifest["source"]["estimator"] == "ExportedProgram"


def test_pt2_with_fixed_batch_says_how_to_export_it(tmp_path):
    torch.export.save(torch.export.export(seeded(MLP), (torch.randn(8, 4),)), tmp_path / "fixed.pt2")
    with pytest.raises(UsageError, match=r"fixed batch size \(8 rows.*Dim\('batch'\)"):
        load_source(tmp_path / "fixed.pt2")


def test_torchscript_file_with_input_shape_and_dtype(tmp_path):
    model = seeded(TextCNN)
    trace(model, torch.randint(0, 50, (2, 20))).save(str(tmp_path / "text.pt"))
    manifest = compile_and_check(tmp_path / "text.pt", tmp_path, targets=("onnx",), rows=64,
                                 input_shapes={"tokens": [20]}, input_dtypes={"tokens": "int64"})
    assert manifest["source"]["converter"] == "torch.onnx (TorchScript exporter, dynamo=False)"
    assert manifest["source"]["estimator"] == "TextCNN"
    # `check --data` reloads the .pt file with the shapes the compile was given.
    assert manifest["source"]["shape_options"] == {"input_shapes": {"tokens": [20]}, "input_dtypes": {"tokens": "int64"}}
    report = modelport.check(tmp_path / "out", data=tmp_path / "out" / "parity" / "inputs.csv")
    assert report.passed and report.reference.startswith("pytorch")


def test_unsupported_op_names_the_op_and_layer():
    with pytest.raises(UnsupportedError, match=r"aten\.cummax \(in layer 'scan', CumulativeMax\)"):
        load_source(seeded(Scanner), example_inputs=(torch.randn(4, 4),))


def test_fixed_batch_module_and_missing_examples_are_usage_errors():
    with pytest.raises(UsageError, match="only works with a batch of 4 rows"):
        load_source(seeded(FixedBatch), example_inputs=(torch.randn(4, 2, 4),))
    with pytest.raises(UsageError, match=r"example_inputs=\(tensor, \.\.\.\)"):
        load_source(seeded(MLP))


def run_cli(*args):
    return subprocess.run([*MODELPORT, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_cli_corrupt_pt2(tmp_path):
    (tmp_path / "bad.pt2").write_bytes(b"not a zip archive")
    proc = run_cli("compile", tmp_path / "bad.pt2", "-t", "onnx", "-o", tmp_path / "out", "-q")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot read" in proc.stderr and "torch.export.save" in proc.stderr


def test_cli_torchscript_without_input_shape(tmp_path):
    trace(seeded(MLP), torch.zeros(2, 4)).save(str(tmp_path / "mlp.pt"))
    proc = run_cli("compile", tmp_path / "mlp.pt", "-t", "onnx", "-o", tmp_path / "out", "-q")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--input-shape features=" in proc.stderr and "--input-dtype features=int64" in proc.stderr
    assert not (tmp_path / "out").exists()
