"""The library APIs, called the way a user would: C++ `Model::predict_row` / the C ABI from a
C++ program linked with the static library, and Java `predict(float[][])` from Java code."""
import json
import subprocess

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import modelport


@pytest.fixture(scope="module", params=["forest", "logistic"])
def built(request, tmp_path_factory):
    rng = np.random.RandomState(0)
    X = rng.randn(300, 5).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.7)
    model = (RandomForestClassifier(10, max_depth=5, random_state=0) if request.param == "forest"
             else LogisticRegression(max_iter=500)).fit(X, y)
    out = tmp_path_factory.mktemp(request.param) / "out"
    modelport.compile(model, targets=["cpp", "java"], out=out, name="m")
    rows = rng.randn(7, 5).astype(np.float32)
    expected = np.column_stack([model.predict(rows), model.predict_proba(rows)])
    return out, rows, expected


def test_cpp_predict_row_and_c_abi(built, tmp_path):
    out, rows, expected = built
    src = tmp_path / "use.cpp"
    flat = ", ".join(f"{v!r}f" for v in rows.reshape(-1).tolist())
    src.write_text(f"""#include <cstdio>
#include "m.hpp"
int main() {{
  const float x[] = {{{flat}}};
  const int64_t n = {len(rows)}, k = m_num_outputs();
  float y[{len(rows)} * 16];
  if (m_predict(x, n, y) != 0 || m_num_features() != 5) return 1;
  for (int64_t r = 0; r < n; ++r) {{
    std::vector<float> one = m::Model::predict_row(std::vector<float>(x + r * 5, x + r * 5 + 5));
    for (int64_t j = 0; j < k; ++j) {{
      if (one[j] != y[r * k + j]) return 2;
      std::printf("%.9g%s", y[r * k + j], j + 1 < k ? "," : "\\n");
    }}
  }}
  return 0;
}}
""")
    exe = tmp_path / "use"
    subprocess.run(["g++", "-std=c++17", f"-I{out / 'cpp'}", str(src), str(out / "cpp" / "libm.a"), "-o", str(exe)],
                   check=True)
    proc = subprocess.run([str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0
    got = np.array([[float(v) for v in line.split(",")] for line in proc.stdout.split()])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_java_predict(built, tmp_path):
    out, rows, expected = built
    src = tmp_path / "Use.java"
    literal = ", ".join("{" + ", ".join(f"{v!r}f" for v in row) + "}" for row in rows.tolist())
    src.write_text(f"""public class Use {{
  public static void main(String[] a) {{
    float[][] x = {{{literal}}};
    float[][] y = modelport.models.M.predict(x);
    for (int r = 0; r < x.length; r++) {{
      float[] one = modelport.models.M.predictRow(x[r]);
      StringBuilder b = new StringBuilder();
      for (int j = 0; j < y[r].length; j++) {{
        if (one[j] != y[r][j]) System.exit(2);
        b.append(j > 0 ? "," : "").append(y[r][j]);
      }}
      System.out.println(b);
    }}
  }}
}}
""")
    jar = str(out / "java" / "m.jar")
    subprocess.run(["javac", "-cp", jar, "-d", str(tmp_path), str(src)], check=True)
    proc = subprocess.run(["java", "-cp", f"{jar}:{tmp_path}", "Use"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    got = np.array([[float(v) for v in line.split(",")] for line in proc.stdout.split()])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
