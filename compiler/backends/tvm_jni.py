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
        f'        modelport.runtime.NativeLibrary.load({cls}.class, "lib{ns}.so");',
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


def generate_jni(sig, name: str, banner: str) -> str:
    """<name>_jni.cpp: Java arrays in, the C++ stub's Model::run, Java arrays out."""
    ns = identifier(name)
    cls = class_name(name)
    symbol = f"Java_{java.PACKAGE.replace('_', '_1').replace('.', '_')}_{cls}_runNative"
    lines = [
        f"// {ns}_jni.cpp: {banner}",
        f'#include "{ns}.hpp"',
        "",
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
        'extern "C" JNIEXPORT void JNICALL',
        f"{symbol}(JNIEnv* env, jclass, jobjectArray inputs, jobjectArray outputs, jint n) {{",
        "  try {",
    ]
    for i, v in enumerate(sig.inputs):
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
    lines.append(f"    {ns}::Model::run(in, out, n);")
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

