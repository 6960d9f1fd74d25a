"""The scoring service a Python user writes for a trained model: FastAPI, run by uvicorn,
answering the same JSON rows as modelport's servers (docs/serving.md), with ONNX Runtime on
the artifact's model.onnx or with the original scikit-learn model.

    MODEL_RUNTIME=onnxruntime MODEL_PATH=dist/m/model.onnx MODEL_FEATURES=f0,f1,... \\
    MODEL_CLASSES=0,1 uvicorn serve_fastapi_app:app --app-dir benchmarks --workers 2

MODEL_RUNTIME is `onnxruntime` (MODEL_PATH a .onnx file) or `sklearn` (MODEL_PATH a joblib
file); MODEL_FEATURES the input columns, in the model's order; MODEL_CLASSES the class labels
of a classifier (integers), empty for a regressor. Each worker process computes on one
thread (ONNX Runtime's session and the BLAS pools), as uvicorn runs one worker per core.

POST /predict {"rows": [{"f0": 0.5, ...}, ...]} answers {"rows": [{"label": 1, "prob_0": ...,
"prob_1": ...}, ...]} for a classifier and {"rows": [{"prediction": ...}, ...]} for a regressor.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel  # noqa: E402

RUNTIME = os.environ.get("MODEL_RUNTIME", "onnxruntime")
MODEL_PATH = os.environ["MODEL_PATH"]
FEATURES = os.environ["MODEL_FEATURES"].split(",")
CLASSES = [int(c) for c in os.environ.get("MODEL_CLASSES", "").split(",") if c]


class PredictRequest(BaseModel):
    rows: list[dict[str, float | None]]


def load_onnxruntime():
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(MODEL_PATH, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def predict(X: np.ndarray):
        outputs = session.run(None, {input_name: X})
        if CLASSES:
            return outputs[0], outputs[1]
        return None, outputs[0]
    return predict


def load_sklearn():
    import joblib
    model = joblib.load(MODEL_PATH)

    def predict(X: np.ndarray):
        if CLASSES:
            proba = model.predict_proba(X)
            return model.classes_[proba.argmax(axis=1)], proba
        return None, model.predict(X)
    return predict


predict_rows = {"onnxruntime": load_onnxruntime, "sklearn": load_sklearn}[RUNTIME]()
app = FastAPI()


@app.post("/predict")
def predict(request: PredictRequest):
    X = pd.DataFrame(request.rows, columns=FEATURES).to_numpy(dtype=np.float32)
    labels, values = predict_rows(X)
    if CLASSES:
        names = [f"prob_{c}" for c in CLASSES]
        return {"rows": [{"label": label, **dict(zip(names, probs))}
                         for label, probs in zip(labels.tolist(), values.tolist())]}
    return {"rows": [{"prediction": value} for value in np.ravel(values).tolist()]}
