"""ONNX to a TVM-compiled library: prepare the graph for TVM's ONNX importer, import it into
Relax, schedule or tune it, build it for a target and export the shared library.

Shared by the tvm-llvm and tvm-cuda targets. TVM is imported lazily: only these targets
need it.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path

import onnx

from ..errors import BuildError, UnsupportedError

LABEL_CLASSES_KEY = "modelport.label_classes."
DEFAULT_CUDA_ARCHS = ("sm_80", "sm_90")


def tvm():
    """The tvm package, or a BuildError saying how to get it."""
    try:
        import tvm as tvm_mod
        from tvm import relax  # noqa: F401  (fails when the wheel lacks Relax)
    except ImportError as exc:
        raise BuildError(f"the TVM targets need Apache TVM (apache-tvm 0.27, with Relax): {exc}. "
                         "Install it with `pip install 'modelport[tvm]'` (make setup does), or leave "
                         "out the tvm-llvm and tvm-cuda targets") from None
    return tvm_mod


def prepare(proto: onnx.ModelProto) -> tuple:
    """The graph in the ops TVM's ONNX importer knows: model-local functions inlined, recurrent
    layers unrolled, ai.onnx.ml ops lowered to tensor ops. Returns (model, {output: [class label
    strings]}) where the lowering turned string class labels into class indices."""
    if proto.functions:  # model-local functions (libsvm's coupling): TVM imports their bodies
        from onnx import inliner
        proto = inliner.inline_local_functions(proto)
    ops = {n.op_type for n in proto.graph.node}
    if ops & {"LSTM", "GRU", "RNN"}:
        from ..passes import unroll_rnn
        proto = unroll_rnn.run(proto)
    from ..passes import ml_to_tensor
    proto = ml_to_tensor.run(proto)  # (a no-op without ai.onnx.ml nodes or string labels)
    labels = {p.key[len(LABEL_CLASSES_KEY):]: json.loads(p.value) for p in proto.metadata_props
              if p.key.startswith(LABEL_CLASSES_KEY)}
    _check_importable(proto)
    return proto, labels


def _check_importable(proto: onnx.ModelProto):
    from tvm.relax.frontend.onnx import onnx_frontend
    known = onnx_frontend._get_convert_map()
    missing = sorted({n.op_type for n in proto.graph.node if n.domain not in ("", "ai.onnx") or n.op_type not in known})
    if missing:
        raise UnsupportedError(
            f"TVM cannot import the ONNX op(s) {', '.join(missing)}; the tvm-llvm and tvm-cuda targets "
            "need a graph of standard ONNX ops. Use the onnx, cpp or java targets for this model")
    for i in proto.graph.input:
        if i.type.tensor_type.elem_type == onnx.TensorProto.STRING:
            raise UnsupportedError(f"input {i.name!r} holds strings; the TVM targets take numeric inputs "
                                   "only. Use the cpp or java targets for models with string columns")


def to_relax(proto: onnx.ModelProto, batch: int | None = None):
    """Import into a Relax IRModule; the batch dimension stays symbolic unless `batch` is given."""
    tvm()
    from tvm.relax.frontend.onnx import from_onnx
    inits = {i.name for i in proto.graph.initializer}
    # One symbolic batch size shared by every input.
    n = batch or tvm().tirx.Var("batch", "int64")
    shapes = {}
    for i in proto.graph.input:
        if i.name in inits:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else None for d in i.type.tensor_type.shape.dim]
        shapes[i.name] = [n] + dims[1:]
    dtypes = {i.name: onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type).name
              for i in proto.graph.input if i.name not in inits}
    try:
        mod = from_onnx(proto, shape_dict=shapes, dtype_dict=dtypes, keep_params_in_input=False)
    except Exception as exc:  # TVM raises its own error types
        raise UnsupportedError(f"TVM cannot import this ONNX graph: {_first_line(exc)}. Use the onnx, cpp "
                               "or java targets for this model") from None
    from .tvm_safe_take import clip_takes
    return clip_takes(mod)


def llvm_target(num_cores: int | None = None):
    """The host CPU, named explicitly (TVM's own guess of the triple is a conda one)."""
    t = tvm()
    return t.target.Target({"kind": "llvm", "mcpu": t.target.codegen.llvm_get_system_cpu(),
                            "mtriple": "x86_64-linux-gnu", "num-cores": num_cores or os.cpu_count() or 1})


def cuda_target(arch: str):
    host = llvm_target()
    return tvm().target.Target({"kind": "cuda", "arch": arch, "host": host})


def tuning_dir(mod, target, cache: Path | None = None) -> Path:
    """Where tuning records for this exact module and target live (reused across builds)."""
    key = hashlib.sha256((str(target) + mod.script(show_meta=False)).encode()).hexdigest()[:24]
    root = cache or Path(os.environ.get("MODELPORT_CACHE") or Path.home() / ".cache" / "modelport")
    return root / "tvm-tuning" / key


def cuda_arch(arch) -> str:
    """--cuda-arch: one sm_XY, or several comma-separated (the default: sm_80,sm_90)."""
    archs = [a.strip() for a in (arch or ",".join(DEFAULT_CUDA_ARCHS)).split(",") if a.strip()]
    bad = [a for a in archs if not (a.startswith("sm_") and a[3:].isdigit())]
    if bad or not archs:
        from ..errors import UsageError
        raise UsageError(f"--cuda-arch {arch!r}: expected sm_XY values such as sm_80 or sm_80,sm_90")
    return ",".join(archs)


def compile_module(mod, target, tune_seconds: float = 0, progress=None):
    """Relax module -> (executable, info). Untuned CPU code uses TVM's default lowering; GPU
    code needs dlight's default schedules. With `tune_seconds`, MetaSchedule tunes every
    task for about that long (records cached by tuning_dir and reused by later builds)
    and the best schedules found are applied."""
    t = tvm()
    from tvm import relax
    info = {"tuned": False}
    if tune_seconds:
        mod, info = _tune(mod, target, tune_seconds, progress)
    elif target.kind.name == "cuda":
        from tvm.s_tir import dlight as dl
        with target:
            mod = relax.get_pipeline("zero")(mod)
            mod = dl.ApplyDefaultSchedule(dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(),
                                          dl.gpu.GeneralReduction(), dl.gpu.Fallback())(mod)
    try:
        with _quiet():
            return t.compile(mod, target=target), info
    except Exception as exc:
        raise BuildError(f"TVM could not build the model for {target.kind.name}: {_first_line(exc)}") from None


def _tune(mod, target, seconds: float, progress):
    """MetaSchedule tuning for about `seconds` (tvm_tune: task by task, the heaviest first),
    then the best schedules found applied. Records accumulate in tuning_dir(); seconds
    already spent on this module and target count toward the budget."""
    from tvm import relax
    from . import tvm_tune
    with target:
        mod = relax.get_pipeline("zero")(mod)
    work = tuning_dir(mod, target)
    with _quiet():
        ledger, db = tvm_tune.tune(mod, target, work, seconds, progress, build=_ms_build)
    measured = ledger["trials"]
    if not measured and progress:
        progress(f"tuning measured no candidate (see the logs in {work}/logs): the build uses TVM's "
                 "default schedules")
    with target, db, tvm().transform.PassContext(opt_level=3):
        mod = relax.transform.MetaScheduleApplyDatabase()(mod)
    tuned = [t for t in ledger["tasks"] if t["best_s"] is not None]
    return mod, {"tuned": measured > 0, "trials": measured, "tuning_seconds": round(ledger["seconds"], 1),
                 "records": str(work), "tasks": len(ledger["tasks"]), "tasks_tuned": len(tuned),
                 "flop_share_tuned": round(sum(t["flop_share"] for t in tuned), 4),
                 "kernels_rejected": ledger["rejected"]}


def _ms_build(mod, target, _params):
    """MetaSchedule's candidate build, without its default's import of TVM's tensor
    intrinsics: that import takes 30-85 s of a builder worker (over its 30 s timeout), so
    every candidate timed out. Module level, so that the builder's workers can import it."""
    from tvm.driver import build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock
    return build(RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod), target=target)


def export(executable, path: Path, target):
    """Write the shared library. CUDA kernels are compiled to a fatbin here, by nvcc, so the
    library runs without a compiler; the host code is compiled by the system C++ compiler."""
    try:
        with _quiet():
            executable.export_library(str(path))
    except Exception as exc:
        raise BuildError(f"TVM could not export the compiled model: {_first_line(exc)}") from None


def runtime_libraries(cuda: bool = False) -> list:
    """The TVM runtime libraries a stub links against, from the installed wheel."""
    import tvm_ffi
    t = tvm()
    tvm_lib = Path(t.__file__).parent / "lib"
    ffi_lib = Path(tvm_ffi.__file__).parent / "lib"
    # The extra runtime holds the library functions compiled models call by name
    # (tvm.contrib.sort.topk for TopK, among others).
    libs = [tvm_lib / "libtvm_runtime.so", ffi_lib / "libtvm_ffi.so", tvm_lib / "libtvm_runtime_extra.so"]
    if cuda:
        # Loaded by the stub when it first runs on the GPU (it needs the NVIDIA driver), with
        # the CUDA runtime it was built against.
        libs += [tvm_lib / "libtvm_runtime_cuda.so", _cudart()]
    for lib in libs:
        if not lib.exists():
            raise BuildError(f"the TVM wheel lacks {lib.name} (looked in {lib.parent}); reinstall apache-tvm")
    return libs


def _cudart() -> Path:
    """libcudart.so.13 of the CUDA toolkit (TVM's CUDA plugin needs that major version)."""
    import ctypes.util
    import subprocess
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "libcudart.so.13 " in line and "=>" in line:
            return Path(line.split("=>")[1].strip())
    for root in sorted(Path("/usr/local").glob("cuda*")):
        for cand in (root / "lib" / "libcudart.so.13", root / "lib64" / "libcudart.so.13"):
            if cand.exists():
                return cand
    raise BuildError("tvm-cuda bundles the CUDA runtime libcudart.so.13, which was not found (looked in "
                     "ldconfig's cache and /usr/local/cuda*): install the CUDA 13 toolkit, or leave out tvm-cuda")


def include_dirs() -> list:
    import tvm_ffi
    return [Path(tvm_ffi.__file__).parent / "include"]


def copy_runtime(dest: Path, cuda: bool = False) -> list:
    dest.mkdir(parents=True, exist_ok=True)
    names = []
    for lib in runtime_libraries(cuda):
        shutil.copy2(lib, dest / lib.name)
        names.append(lib.name)
    return names


def _first_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:500]


@contextlib.contextmanager
def _quiet():
    """TVM's own warnings are not the user's business."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
