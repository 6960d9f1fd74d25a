"""The XGBoost and LightGBM part of `make bench` (cases of benchmarks/run.py): a 500-tree model
of each, depth 8, 50 features, timed through the generated C++ and Java against the library's
own predict and the tools users would compare with, all in this process or its drivers, on the
same pinned core with one thread:

- ONNX Runtime on onnxmltools' conversion of the model (float32, as onnxmltools writes it);
- treelite + tl2cgen: the model exported as a C library (gcc -O2), called through
  tl2cgen.Predictor with one thread;
- lleaves (LightGBM only): the model compiled with LLVM, predict with n_jobs=1.

The other tools are reported with their agreement but do not fail the run; the target row
compares the generated C++ batch throughput with the fastest of them.
"""
from __future__ import annotations

import numpy as np

N_TREES = 500
DEPTH = 8
N_FEATURES = 50


def cases(Case) -> list:
    return [
        Case("xgboost_regressor", f"XGBRegressor: {N_TREES} trees, max_depth {DEPTH}, {N_FEATURES} features "
             "(float32, as XGBoost computes)", True, False, _xgboost, n_features=N_FEATURES, library="XGBoost",
             extras=xgboost_others),
        Case("lightgbm_regressor", f"LGBMRegressor: {N_TREES} trees, max_depth {DEPTH} (255 leaves), {N_FEATURES} "
             "features, in double", True, False, _lightgbm, double=True, n_features=N_FEATURES, library="LightGBM",
             extras=lightgbm_others),
    ]


def _xgboost():
    import xgboost as xgb
    return xgb.XGBRegressor(n_estimators=N_TREES, max_depth=DEPTH, n_jobs=1, tree_method="hist", random_state=0)


def _lightgbm():
    import lightgbm as lgb
    return lgb.LGBMRegressor(n_estimators=N_TREES, max_depth=DEPTH, num_leaves=255, n_jobs=1, verbose=-1,
                             random_state=0)


def _ort_onnxmltools(case, est, X, convert, h):
    from onnxmltools.convert.common.data_types import FloatTensorType
    onx = convert(est, initial_types=[("input", FloatTensorType([None, X.shape[1]]))])
    path = h.WORK / f"{case.key}_onnxmltools.onnx"
    path.write_bytes(onx.SerializeToString())
    sess = h.ort_session(path)
    out_names = [o.name for o in sess.get_outputs()][:1]

    def call(a):
        return sess.run(out_names, {"input": a.astype(np.float32)})[0]
    return h.python_runner("ONNX Runtime on onnxmltools' conversion (float32)", "ort_onnxmltools", call, X)


def _tl2cgen(case, tl_model, X, dtype, say, h):
    import tl2cgen
    lib = h.WORK / f"{case.key}_tl2cgen.so"
    say("  exporting the model with treelite + tl2cgen")
    tl2cgen.export_lib(tl_model, toolchain="gcc", libpath=str(lib), params={"parallel_comp": 16}, nthread=1,
                       verbose=False)
    predictor = tl2cgen.Predictor(str(lib), nthread=1, verbose=False)

    def call(a):
        return predictor.predict(tl2cgen.DMatrix(a.astype(dtype)))
    return h.python_runner("treelite + tl2cgen (C library, 1 thread)", "tl2cgen", call, X)


def _guard(label, key, make, h):
    """A runner, or one that reports why it could not be built (the run goes on)."""
    try:
        return make()
    except Exception as exc:  # noqa: BLE001 - a missing or failing tool is reported in the table
        return h.Runner(label, key, error=f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
                        if str(exc).strip() else type(exc).__name__)


def xgboost_others(case, est, X, say, h) -> list:
    import onnxmltools
    import treelite
    return [
        _guard("ONNX Runtime on onnxmltools' conversion", "ort_onnxmltools",
               lambda: _ort_onnxmltools(case, est, X, onnxmltools.convert_xgboost, h), h),
        _guard("treelite + tl2cgen", "tl2cgen",
               lambda: _tl2cgen(case, treelite.frontend.from_xgboost(est.get_booster()), X, np.float32, say, h), h),
    ]


def lightgbm_others(case, est, X, say, h) -> list:
    import onnxmltools
    import treelite

    def lleaves_runner():
        import lleaves
        path = h.WORK / f"{case.key}.txt"
        est.booster_.save_model(str(path))
        say("  compiling the model with lleaves")
        model = lleaves.Model(model_file=str(path))
        model.compile(cache=str(h.WORK / f"{case.key}_lleaves.o"))

        def call(a):
            return model.predict(a, n_jobs=1)
        return h.python_runner("lleaves (LLVM-compiled, n_jobs=1)", "lleaves", call, X)
    return [
        _guard("ONNX Runtime on onnxmltools' conversion", "ort_onnxmltools",
               lambda: _ort_onnxmltools(case, est, X, onnxmltools.convert_lightgbm, h), h),
        _guard("treelite + tl2cgen", "tl2cgen",
               lambda: _tl2cgen(case, treelite.frontend.from_lightgbm(est.booster_), X, np.float64, say, h), h),
        _guard("lleaves", "lleaves", lleaves_runner, h),
    ]


def targets(case, others: list, cpp, ratio_stats) -> list:
    """The floor: generated C++ batch throughput at least that of the fastest other runner."""
    timed = [r for r in others if r.round_batch]
    if not timed:
        return [(f"{case.key}: generated C++ batch ≥ the fastest of the library and the other tools",
                 "not measured", "**no**")]
    ratios = {r.label: ratio_stats(cpp.round_batch, r.round_batch)[0] for r in timed}
    fastest = min(ratios, key=ratios.get)
    med = ratios[fastest]
    return [(f"{case.key}: generated C++ batch throughput ≥ the fastest other runner ({fastest})",
             f"{med:.2f}x", "yes" if med >= 1.0 else "**no**")]
