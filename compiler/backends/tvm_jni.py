"""The Java stub of the TVM targets: the java target's API (same class, SPEC, run, predict,
CSV program) with runRows implemented natively, over JNI, by the C++ stub (lib<name>.so).

The jar lives in java/<name>.jar and loads ../lib<name>.so (the system property
`modelport.tvm.dir` names another folder); the JNI functions are compiled into
lib<name>.so itself, from <name>_jni.cpp.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from . import java
from .naming import class_name, identifier

JNI_TYPE = {"f32": ("jfloatArray", "Float", "jfloat"), "f64": ("jdoubleArray", "Double", "jdouble"),
            "i64": ("jlongArray", "Long", "jlong")}


def java_home() -> Path | None:
    """The JDK whose jni.h the JNI code compiles against (JAVA_HOME, else javac's)."""
    import os
    for home in (os.environ.get("JAVA_HOME"), _javac_home()):
        if home and (Path(home) / "include" / "jni.h").exists():
            return Path(home)
    return None


def _javac_home():
    javac = shutil.which("javac")
    return str(Path(javac).resolve().parent.parent) if javac else None


def jni_includes() -> list:
    home = java_home()
    return [home / "include", home / "include" / "linux"] if home else []


def generate_java(sig, schema, name, description, banner) -> dict:
    cls = class_name(name)
    ns = identifier(name)
    members = [
        "    static {",
        f'        modelport.runtime.NativeLibrary.load({cls}.class, "lib{ns}_jni.so");',
        "    }",
        "",
        "    private static native void runNative(Object[] inputs, Object[] outputs, int n);",
    ]
    run_rows = ["        runNative(inputs, outputs, n);"]
    files = java.generate(sig, schema, name, description, banner,
                          native={"members": members, "run_rows": run_rows})
    files["src/modelport/runtime/NativeLibrary.java"] = _native_library_source()
    return {f"java/{k}": v for k, v in files.items()}


def _native_library_source() -> str:
    from importlib import resources
    return resources.files("modelport.runtimes").joinpath("tvm", "NativeLibrary.java").read_text()


def generate_tensors_abi(name: str, banner: str) -> str:
    """<name>_tensors.cpp, part of lib<name>.so: Model::run behind a C function that reports
    errors as codes and text, for the JNI library, which loads lib<name>.so itself."""
    ns = identifier(name)
    return "\n".join([
        f"// {ns}_tensors.cpp: {banner}",
        f'#include "{ns}.hpp"',
        "",
        "#include <cstdint>",
        "#include <cstdio>",
        "#include <exception>",
        "#include <stdexcept>",
        "",
        "// 0: done; 1: the model failed; 2: a bad input value. `error` gets the message.",
        f'extern "C" int {ns}_run_tensors(const void* const* inputs, void* const* outputs, int64_t n, char* error,',
        "                                 size_t error_size) {",
        "  try {",
        f"    {ns}::Model::run(inputs, outputs, n);",
        "    return 0;",
        "  } catch (const std::invalid_argument& e) {",
        '    std::snprintf(error, error_size, "%s", e.what());',
        "    return 2;",
        "  } catch (const std::exception& e) {",
        '    std::snprintf(error, error_size, "%s", e.what());',
        "    return 1;",
        "  } catch (...) {  // nothing may cross into the JVM",
        '    std::snprintf(error, error_size, "the model failed");',
        "    return 1;",
        "  }",
        "}",
    ]) + "\n"


def generate_jni(sig, name: str, banner: str) -> str:
    """<name>_jni.cpp, built into lib<name>_jni.so: Java arrays in, lib<name>.so's
    <name>_run_tensors, Java arrays out. It does not link the TVM runtime: it loads
    lib<name>.so when Java loads it, keeping the JVM's signal handlers (modelport_jni.hpp)."""
    ns = identifier(name)
    cls = class_name(name)
    symbol = f"Java_{java.PACKAGE.replace('_', '_1').replace('.', '_')}_{cls}_runNative"
    lines = [
        f"// {ns}_jni.cpp: {banner}",
        "#include <jni.h>",
        "",
        "#include <cstdint>",
        "#include <exception>",
        "#include <stdexcept>",
        "#include <string>",
        "#include <vector>",
        "",
        '#include "modelport_jni.hpp"',
        "",
        "namespace {",
        "modelport_jni::RunTensors run_tensors = nullptr;",
        "}  // namespace",
        "",
        'extern "C" JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM*, void*) {',
        f'  run_tensors = modelport_jni::load_model("lib{ns}.so", "{ns}_run_tensors");',
        "  return JNI_VERSION_1_8;",
        "}",
        "",
        'extern "C" JNIEXPORT void JNICALL',
        f"{symbol}(JNIEnv* env, jclass, jobjectArray inputs, jobjectArray outputs, jint n) {{",
        "  try {",
        "    if (run_tensors == nullptr) throw std::runtime_error(modelport_jni::load_error());",
    ]
    for i, v in enumerate(sig.inputs):
        if v.dtype == "str":  # string columns: the stub's front reads them (tvm_front.py)
            lines.append(f"    std::vector<std::string> in{i} = modelport_jni::get_strings(env, static_cast<jobjectArray>("
                         f"env->GetObjectArrayElement(inputs, {i})), static_cast<size_t>(n) * {v.size});")
            continue
        jarr, kind, _ = JNI_TYPE[v.dtype]
        lines.append(f"    modelport_jni::{kind}Elements in{i}(env, static_cast<{jarr}>("
                     f"env->GetObjectArrayElement(inputs, {i})), JNI_ABORT);")
    for i, v in enumerate(sig.outputs):
        if v.dtype == "str":
            lines.append(f"    std::vector<std::string> out{i}(static_cast<size_t>(n) * {v.size});")
        else:
            jarr, kind, _ = JNI_TYPE[v.dtype]
            lines.append(f"    modelport_jni::{kind}Elements out{i}(env, static_cast<{jarr}>("
                         f"env->GetObjectArrayElement(outputs, {i})), 0);")
    lines.append(f"    const void* in[] = {{{', '.join(f'in{i}.data()' for i in range(len(sig.inputs)))}}};")
    lines.append(f"    void* out[] = {{{', '.join(f'out{i}.data()' for i in range(len(sig.outputs)))}}};")
    lines.append("    char error[2048] = {0};")
    lines.append("    const int rc = run_tensors(in, out, n, error, sizeof error);")
    lines.append("    if (rc == 2) throw std::invalid_argument(error);")
    lines.append("    if (rc != 0) throw std::runtime_error(error);")
    for i, v in enumerate(sig.outputs):
        if v.dtype == "str":
            lines.append(f"    modelport_jni::set_strings(env, static_cast<jobjectArray>("
                         f"env->GetObjectArrayElement(outputs, {i})), out{i});")
    lines += [
        "  } catch (const std::invalid_argument& e) {",
        '    modelport_jni::throw_java(env, "java/lang/IllegalArgumentException", e.what());',
        "  } catch (const std::exception& e) {",
        '    modelport_jni::throw_java(env, "java/lang/RuntimeException", e.what());',
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"

