"""Train the bundled example: a scikit-learn pipeline over numeric and string columns.

Writes churn.skops (the model) and churn_sample.csv (rows to check parity on) next to this file.
The data is synthetic and made here: no download.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).parent


def make_data(n: int, seed: int) -> tuple:
    rng = np.random.RandomState(seed)
    df = pd.DataFrame({
        "tenure (months)": rng.gamma(2.0, 12.0, n).round(1),
        "monthly charge": rng.normal(70, 25, n).round(2),
        "support calls": rng.poisson(1.5, n).astype(float),
        "plan": rng.choice(["basic", "plus", "pro/enterprise"], n, p=[0.5, 0.35, 0.15]),
        "region": rng.choice(["north", "south", "east", "west"], n),
    })
    df.loc[rng.rand(n) < 0.05, "monthly charge"] = np.nan  # some unknown charges
    logit = (-0.04 * df["tenure (months)"] + 0.02 * df["monthly charge"].fillna(70)
             + 0.5 * df["support calls"] - 0.8 * (df["plan"] == "pro/enterprise") - 1.0)
    churn = np.where(rng.rand(n) < 1 / (1 + np.exp(-logit)), "churn", "stay")
    return df, churn


def main():
    X, y = make_data(2000, 0)
    numeric = ["tenure (months)", "monthly charge", "support calls"]
    strings = ["plan", "region"]
    model = Pipeline([
        ("prepare", ColumnTransformer([
            ("numbers", Pipeline([("impute", SimpleImputer(strategy="median")),
                                  ("scale", StandardScaler())]), numeric),
            ("categories", OneHotEncoder(handle_unknown="ignore"), strings),
        ])),
        ("classify", LogisticRegression(max_iter=1000)),
    ]).fit(X, y)
    sio.dump(model, HERE / "churn.skops")
    sample, _ = make_data(500, 1)
    sample.to_csv(HERE / "churn_sample.csv", index=False)
    print(f"trained {type(model[-1]).__name__} on {len(X)} rows; accuracy {model.score(X, y):.3f}")


if __name__ == "__main__":
    main()
