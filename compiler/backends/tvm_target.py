"""What the tvm-llvm and tvm-cuda targets share: prepare, import, build and export the model,
then generate and build its stubs."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import onnx

from . import java, tvm_build, tvm_front, tvm_jni, tvm_stub
from .naming import identifier

PREPARED = "prepared.onnx"


def emit_tvm(directory: Path, device: str, schema, name, description, banner, proto, graph,
             tune: float = 0, cuda_arch=None, batch=None, progress=None, **_) -> dict:
    directory.mkdir(parents=True)
    ns = identifier(name)
    cuda = device == "kCUDA"
    tvm = tvm_build.tvm()
    # String columns: the nodes that read them run in the stub, TVM computes the rest.
    front, rest = tvm_front.split(proto)
    prepared, labels = tvm_build.prepare(rest)
    # The graph TVM compiles (and its front), kept for the parity check of the preparation.
    onnx.save(prepared, directory / PREPARED)
    sig = tvm_stub.signature(graph, labels, front=front is not None)
    code = None
    if front is not None:
        onnx.save(front, directory / tvm_front.FRONT)
        inits = {i.name for i in prepared.graph.initializer}
        code = tvm_stub.front_code(front, name, sig, [i.name for i in prepared.graph.input if i.name not in inits])
    t0 = time.time()
    if cuda:
        info = _build_cuda(directory, ns, cuda_arch, tune, batch, progress)
    else:
        target = tvm_build.llvm_target()
        mod = tvm_build.to_relax(prepared, batch)
        executable, info = tvm_build.compile_module(mod, target, tune_seconds=tune, progress=progress)
        tvm_build.export(executable, directory / f"{ns}_module.so", target)
        info["target"] = str(target)
    info.update({"tvm_version": tvm.__version__, "tvm_seconds": round(time.time() - t0, 2),
                 "batch": batch or "any"})
    files = tvm_stub.generate(sig, labels, schema, name, description, banner, device, batch or 0, front=code)
    jni = tvm_jni.jni_includes() if shutil.which("javac") and shutil.which("jar") else []
    if jni:
        files[f"{ns}_jni.cpp"] = tvm_jni.generate_jni(sig, name, banner)
        files[f"{ns}_tensors.cpp"] = tvm_jni.generate_tensors_abi(name, banner)
        files.update(tvm_jni.generate_java(sig, schema, name, description, banner))
    elif progress:
        progress(f"{directory.name}: no JDK found (javac, jar and jni.h): the Java stub is not built")
    for rel, text in files.items():
        p = directory / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    info.update(tvm_stub.build(directory, name, cuda=cuda, jni=jni))
    built = [f"{ns}_module.so", f"lib{ns}.so", f"bin/{ns}", PREPARED] + ([f"lib{ns}_jni.so"] if jni else []) + \
        ([tvm_front.FRONT] if front is not None else [])
    if jni:
        info["java"] = java.build(directory / "java", name)
        info["class"] = f"{java.PACKAGE}.{tvm_jni.class_name(name)}"
        built.append(f"java/{name}.jar")
    else:
        info["java"] = "not built: no JDK (javac, jar and jni.h) on the build machine"
    info["files"] = sorted(files) + built
    if labels:
        info["label_classes"] = labels
    return info


def _build_cuda(directory: Path, ns: str, cuda_arch, tune: float, batch, progress) -> dict:
    from ..parity.gpu import cuda_available
    from . import tvm_cuda_build
    archs = tvm_build.cuda_arch(cuda_arch)
    if tune and not cuda_available()[0]:
        # MetaSchedule measures candidates on the GPU itself.
        if progress:
            progress("tvm-cuda: no GPU on this machine, so no tuning (dlight's default schedules are used)")
        tune = 0
    info = tvm_cuda_build.build(directory / PREPARED, directory / f"{ns}_module.so", archs, tune, batch, progress)
    info["target"] = f"cuda ({archs}), kernels compiled to a fatbin by nvcc"
    return info
