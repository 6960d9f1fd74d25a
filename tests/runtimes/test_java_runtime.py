"""Tests of the Java runtime (runtimes/java/modelport/runtime).

The runtime and a hand-written fake model (fixtures/FakeModel.java) are compiled with
javac --release 11 into a jar, which is run on real CSV input. The error messages and exit
codes checked here are the same as in test_cpp_runtime.py: both runtimes implement one contract.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers import midpoint_texts

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_DIR = ROOT / "runtimes" / "java"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "FakeModel.java"

pytestmark = pytest.mark.skipif(
    shutil.which("javac") is None or shutil.which("java") is None or shutil.which("jar") is None,
    reason="JDK not available",
)

HEADER_OUT = ["label", "prob,0", 'prob "1"', "s (echo)"]
IN_COLS = ["a", "b c", "d/(e)", "s"]
JAVA = ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"]


@pytest.fixture(scope="module")
def jar(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("java_runtime")
    classes = d / "classes"
    from modelport.backends.java import RUNTIME_SOURCES
    sources = [str(RUNTIME_DIR / "modelport" / "runtime" / f) for f in RUNTIME_SOURCES]
    r = subprocess.run(
        ["javac", "--release", "11", "-Xlint:all", "-Werror", "-encoding", "UTF-8", "-d", str(classes),
         *sources, str(FIXTURE)],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr
    out = d / "fake_model.jar"
    r = subprocess.run(["jar", "--create", "--file", str(out), "--main-class", "FakeModel", "-C", str(classes), "."],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


def run(jar: Path, args=(), stdin: str | bytes = ""):
    data = stdin.encode() if isinstance(stdin, str) else stdin
    r = subprocess.run([*JAVA, "-jar", str(jar), *args], input=data, capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def write_csv(header, rows, lineterminator="\n") -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator=lineterminator)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def assert_f32(text: str, value) -> None:
    """text must read back (through Python's float) as exactly the float32 `value`."""
    v = np.float32(value)
    if np.isnan(v):
        assert text == "NaN"
    elif np.isinf(v):
        assert text == ("inf" if v > 0 else "-inf")
    else:
        assert np.float32(float(text)) == v, (text, v)


def assert_f64(text: str, value: float) -> None:
    if math.isnan(value):
        assert text == "NaN"
    elif math.isinf(value):
        assert text == ("inf" if value > 0 else "-inf")
    else:
        assert float(text) == value, (text, value)


def random_f32(rng, n):
    v = rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)
    return v.astype(np.float32)


def random_strings(rng, n):
    pieces = ["x", "y z", ",", '"', "/", "(", ")", " ", "é", "\n", "\r\n", "1.5", ""]
    return ["".join(rng.choice(pieces, rng.integers(0, 5))) for _ in range(n)]


def check_mixed_output(out: str, a, b, d, s):
    a, b, d = (np.asarray(v, dtype=np.float32) for v in (a, b, d))
    with np.errstate(invalid="ignore", over="ignore"):
        label = ((a + b) > 0).astype(np.int64)
        prob1 = b + d
    rows = read_csv(out)
    assert rows[0] == HEADER_OUT
    assert len(rows) == len(s) + 1
    for i, got in enumerate(rows[1:]):
        assert got[0] == str(label[i])
        assert_f32(got[1], a[i])
        assert_f32(got[2], prob1[i])
        assert got[3] == s[i]


# ---------------------------------------------------------------------------------------------
# CSV program
# ---------------------------------------------------------------------------------------------


def test_round_trip_and_quoting(jar):
    rng = np.random.default_rng(1)
    n = 300
    a, b, d = random_f32(rng, n), random_f32(rng, n), random_f32(rng, n)
    s = random_strings(rng, n)
    b_text = ["%.17g" % float(v) for v in b]
    b_f32 = [np.float32(float(t)) for t in b_text]
    rows = [[str(a[i]), b_text[i], str(d[i]), s[i]] for i in range(n)]
    rc, out, err = run(jar, stdin=write_csv(IN_COLS, rows))
    assert rc == 0, err
    assert err == ""
    check_mixed_output(out, a, b_f32, d, s)
    assert out.splitlines()[0] == 'label,"prob,0","prob ""1""",s (echo)'


def test_string_quoting_on_output(jar):
    values = ["plain", "a,b", 'say "hi"', " lead", "trail ", "two\nlines", "", "x/(y)", "crlf\r\nz"]
    rows = [["1", "1", "1", v] for v in values]
    rc, out, err = run(jar, stdin=write_csv(IN_COLS, rows))
    assert rc == 0, err
    lines = out.split("\n")
    assert lines[1] == "1,1.0,2.0,plain"
    assert lines[2] == '1,1.0,2.0,"a,b"'
    assert lines[3] == '1,1.0,2.0,"say ""hi"""'
    assert lines[4] == '1,1.0,2.0," lead"'
    assert lines[5] == '1,1.0,2.0,"trail "'
    assert [r[3] for r in read_csv(out)[1:]] == values


def test_column_order_does_not_matter(jar):
    rows = [["0.5", "-0.25", "3", "p"], ["-2", "1", "nan", "q,r"]]
    rc1, out1, _ = run(jar, stdin=write_csv(IN_COLS, rows))
    order = [3, 2, 0, 1]
    rc2, out2, _ = run(jar, stdin=write_csv([IN_COLS[i] for i in order], [[r[i] for i in order] for r in rows]))
    assert rc1 == rc2 == 0
    assert out1 == out2
    assert read_csv(out1)[1:] == [["1", "0.5", "2.75", "p"], ["0", "-2.0", "NaN", "q,r"]]


def test_missing_column(jar):
    rc, out, err = run(jar, stdin="a,s\n1,x\n")
    assert rc == 2
    assert err == (
        'error: line 1 (header): missing input columns "b c", "d/(e)" '
        '(the model needs "s", "a", "b c", "d/(e)")\n'
    )
    assert out == ""


def test_extra_and_duplicate_columns(jar):
    text = write_csv(IN_COLS + ["extra, col"], [["1", "2", "3", "x", "ignored"]])
    rc, out, err = run(jar, stdin=text)
    assert rc == 2
    assert err == (
        'error: line 1 (header): unknown input column "extra, col" '
        "(pass --allow-extra-columns to ignore extra columns)\n"
    )
    rc, out, err = run(jar, ["--allow-extra-columns"], stdin=text)
    assert rc == 0, err
    assert read_csv(out) == [HEADER_OUT, ["1", "1.0", "5.0", "x"]]
    rc, out, err = run(jar, stdin="a,b c,d/(e),s,a\n1,2,3,x,1\n")
    assert rc == 2
    assert err == 'error: line 1 (header): duplicate column name "a"\n'


def test_unparsable_number(jar):
    rows = [["1", "2", "3", "x"], ["1", "2", "3", "y"], ["1", "abc", "3", "z"], ["1", "2", "3", "w"]]
    rc, out, err = run(jar, stdin=write_csv(IN_COLS, rows))
    assert rc == 2
    assert err == 'error: row 3 (line 4), column "b c": cannot parse "abc" as a number\n'
    assert out.splitlines() == ['label,"prob,0","prob ""1""",s (echo)']


def test_number_syntax_errors(jar):
    # Java's own parsers would accept some of these (hex, 1f, 1d); the runtime must not.
    for bad in ["1.2.3", "0x10", "1f", "1d", "0x1p3", "e5"]:
        rc, _, err = run(jar, stdin=write_csv(IN_COLS, [["1", "2", bad, "x"]]))
        assert rc == 2, bad
        assert err == f'error: row 1 (line 2), column "d/(e)": cannot parse "{bad}" as a number\n'


def test_wrong_field_count(jar):
    text = "a,b c,d/(e),s\n1,2,3,x\n1,2,3,x\n1,2,3,x\n1,2,3,x\n1,2,3\n"
    rc, out, err = run(jar, stdin=text)
    assert rc == 2
    assert err == "error: row 5 (line 6): expected 4 fields, found 3\n"


def test_line_numbers_and_malformed_quotes(jar):
    rc, _, err = run(jar, stdin='a,b c,d/(e),s\n1,2,3,"two\nlines"\n1,2,zz,x\n')
    assert rc == 2
    assert err == 'error: row 2 (line 4), column "d/(e)": cannot parse "zz" as a number\n'
    rc, _, err = run(jar, stdin='a,b c,d/(e),s\n1,2,3,"open\n')
    assert rc == 2 and err == "error: row 1 (line 2): unterminated quoted field\n"
    rc, _, err = run(jar, stdin='a,b c,d/(e),s\n1,2,3,"ab"c\n')
    assert rc == 2 and "row 1 (line 2)" in err and "closing quote" in err


def test_missing_and_special_values(jar):
    rows = [
        ["", "1", "2", "empty"],
        ["NaN", "1", "2", "NaN"],
        ["nan", " 1.5 ", "\t-2\t", "spaces"],
        ["NAN", "inf", "-inf", "inf"],
        ["1", "Infinity", "-Infinity", "infinity"],
        ["+1e-3", "-0", ".5", "signs"],
        ["1e39", "1e-50", "3.", "overflow"],
    ]
    rc, out, err = run(jar, stdin=write_csv(IN_COLS, rows))
    assert rc == 0, err
    assert read_csv(out)[1:] == [
        ["0", "NaN", "3.0", "empty"],
        ["0", "NaN", "3.0", "NaN"],
        ["0", "NaN", "-0.5", "spaces"],
        ["0", "NaN", "NaN", "inf"],
        ["1", "1.0", "NaN", "infinity"],
        ["1", "0.001", "0.5", "signs"],
        ["1", "inf", "3.0", "overflow"],
    ]


def test_help_schema_and_flags(jar):
    rc, out, err = run(jar, ["--help"])
    assert rc == 0 and err == ""
    assert "standard input" in out and "standard output" in out
    for name in ["a", "b c", "d/(e)", "s", "label", '"prob,0"', '"prob ""1"""', "s (echo)"]:
        assert f"  {name} " in out
    assert "--allow-extra-columns" in out and "--schema" in out
    rc, out, err = run(jar, ["--schema"])
    assert rc == 0
    assert out == (
        "Model: fake_mixed\nInputs: X float32[3] (a, b c, d/(e)); s string\n"
        "Outputs: label int64; prob float32[2]; echo string\n"
    )
    rc, out, err = run(jar, ["--frobnicate"], stdin="a\n")
    assert rc == 2 and err.startswith('error: unknown option "--frobnicate"\n') and out == ""


def test_empty_input(jar):
    rc, out, err = run(jar, stdin="")
    assert rc == 2
    assert err == "error: empty input: expected a header line naming the input columns\n"


def test_crlf_trailing_lines_and_bom(jar):
    rows = [["1", "2", "3", "x"], ["-1", "0.5", "", "two\r\nlines"], ["4", "5", "6", ""]]
    lf = write_csv(IN_COLS, rows)
    crlf = write_csv(IN_COLS, rows, lineterminator="\r\n")
    rc, expected, err = run(jar, stdin=lf)
    assert rc == 0, err
    for variant in (crlf, lf + "\n\n", crlf.rstrip("\r\n"), "\ufeff" + crlf):
        rc, out, err = run(jar, stdin=variant)
        assert rc == 0, err
        assert out == expected
    rc, _, err = run(jar, stdin="a,b c,d/(e),s\n\n1,2,3,x\n")
    assert rc == 2 and err == "error: row 1 (line 2): expected 4 fields, found 1\n"


def test_many_rows_in_blocks(jar):
    rng = np.random.default_rng(7)
    n = 5000
    a, b, d = random_f32(rng, n), random_f32(rng, n), random_f32(rng, n)
    a[rng.random(n) < 0.05] = np.nan
    s = random_strings(rng, n)
    rows = [["" if np.isnan(a[i]) else str(a[i]), str(b[i]), str(d[i]), s[i]] for i in range(n)]
    rc, out, err = run(jar, stdin=write_csv(["s", "d/(e)", "b c", "a"], [r[::-1] for r in rows]))
    assert rc == 0, err
    check_mixed_output(out, a, b, d, s)
    rows[2500][1] = "oops"
    rc, out, err = run(jar, stdin=write_csv(IN_COLS, rows))
    assert rc == 2
    assert "error: row 2501 (line " in err and 'column "b c": cannot parse "oops"' in err
    assert len(read_csv(out)) == 1 + 2048


def test_float64_and_int64_columns(jar):
    rng = np.random.default_rng(3)
    n = 2000
    u0 = rng.standard_normal(n) * 10.0 ** rng.integers(-200, 200, n)
    u1 = rng.standard_normal(n)
    k = rng.integers(-(2**60), 2**60, n)
    rows = [[repr(float(u1[i])), str(int(k[i])), repr(float(u0[i]))] for i in range(n)]
    rows[0][1] = "+7"
    rows[1][1] = " -3 "
    k[0], k[1] = 7, -3
    rc, out, err = run(jar, ["--numeric-model"], stdin=write_csv(["u1", "k", "u0"], rows))
    assert rc == 0, err
    got = read_csv(out)
    assert got[0] == ["pair_1", "sum", "kk", "pair_0"]
    with np.errstate(over="ignore"):
        pair0, pair1 = u0.astype(np.float32), u1.astype(np.float32)
    for i, row in enumerate(got[1:]):
        assert_f32(row[0], pair1[i])
        assert_f64(row[1], float(u0[i]) + float(u1[i]) + float(k[i]))
        assert row[2] == str(2 * int(k[i]))
        assert_f32(row[3], pair0[i])
    for bad in ["1.5", "", "99999999999999999999"]:
        rc, _, err = run(jar, ["--numeric-model"], stdin=f"u0,u1,k\n1,2,{bad}\n")
        assert rc == 2
        assert err == f'error: row 1 (line 2), column "k": cannot parse "{bad}" as an integer\n'


def test_float32_text_reads_back_exactly(jar):
    # Every float32 printed must read back through Python's float() and float32 rounding.
    rng = np.random.default_rng(12)
    bits = rng.integers(0, 2**32, 4000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    values = values[np.isfinite(values)]
    text = "u0,u1,k\n" + "".join(f"{float(v)!r},0,0\n" for v in values)
    rc, out, err = run(jar, ["--numeric-model"], stdin=text)
    assert rc == 0, err
    for v, row in zip(values, read_csv(out)[1:]):
        assert np.float32(float(row[3])) == v
        assert float(row[1]) == float(v)


def test_float32_columns_parse_to_double_then_narrow(jar):
    texts, want = midpoint_texts(np.random.default_rng(21), 300)
    assert want[-1] == np.float32(1.8685029)  # Float.parseFloat gives 1.8685027
    rc, out, err = run(jar, ["--linear-model"], stdin=write_csv(["x0", "x1", "x2"], [["0", "0", t] for t in texts]))
    assert rc == 0, err
    got = np.array([np.float32(float(r[1])) for r in read_csv(out)[1:]], dtype=np.float32)
    np.testing.assert_array_equal(got, np.float32(2) * want)  # y1 = 2 x2, exact


def test_float64_text_reads_back_exactly(jar):
    # Every double printed (Double.toString) must read back as the same double.
    rng = np.random.default_rng(13)
    values = rng.integers(0, 2**63, 4000, dtype=np.uint64).view(np.float64)
    values = np.concatenate([values[np.isfinite(values)], -values[:100], [5e-324, 2.2250738585072014e-308,
                                                                          1.7976931348623157e308, 1e23, 2e-3]])
    text = "u0,u1,k\n" + "".join(f"{float(v)!r},0,0\n" for v in values)
    rc, out, err = run(jar, ["--numeric-model"], stdin=text)
    assert rc == 0, err
    got = np.array([float(row[1]) for row in read_csv(out)[1:]])  # sum = u0 + 0 + 0
    np.testing.assert_array_equal(got.view(np.int64), (values + 0.0).view(np.int64))


def test_invalid_spec_is_refused(jar):
    rc, out, _ = run(jar, ["--bad-spec"])
    assert rc == 0
    assert out == 'IllegalArgumentException: element 1 of input "X" has no column\n'


# ---------------------------------------------------------------------------------------------
# Closed string columns (known levels): the same messages as the C++ runtime
# ---------------------------------------------------------------------------------------------

COLOURS = ["red", "green", 'bl"ue, \\ */', "ü"]
KNOWN = '(known levels: "red", "green", "bl"ue, \\ */", "ü")'


def test_closed_column_accepts_its_levels_and_empty(jar):
    rows = [[c, f"s{i}", str(i)] for i, c in enumerate(COLOURS + ["", "red"])]
    rc, out, err = run(jar, ["--closed-model"], stdin=write_csv(["colour", "size", "x"], rows))
    assert rc == 0, err
    assert read_csv(out) == [["colour out", "size out", "y"]] + [[c, s, f"{i}.0"] for i, (c, s, _) in enumerate(rows)]
    rc, out, err = run(jar, ["--closed-model"], stdin=write_csv(["x", "size", "colour"], [["1", "new, value", "red"]]))
    assert rc == 0, err


def test_closed_column_rejects_unknown_level(jar):
    for bad in ["blue", "Red", " red", "red ", 'bl"ue', "üx", "u\u0308"]:
        rows = [["red", "a", "1"], ["green", "b", "2"], [bad, "c", "3"], ["red", "d", "4"]]
        rc, out, err = run(jar, ["--closed-model"], stdin=write_csv(["colour", "size", "x"], rows))
        assert rc == 2
        assert err == f'error: row 3 (line 4), column "colour": unknown level "{bad}" {KNOWN}\n'
        assert out == "colour out,size out,y\n"  # nothing of the failed block


def test_closed_column_error_in_a_later_block(jar):
    rows = [["red", "s", "1"]] * 3000
    rows[2100] = ["violet", "s", "1"]
    rc, out, err = run(jar, ["--closed-model"], stdin=write_csv(["colour", "size", "x"], rows))
    assert rc == 2
    assert err == f'error: row 2101 (line 2102), column "colour": unknown level "violet" {KNOWN}\n'
    assert len(read_csv(out)) == 1 + 2048


def test_many_levels(jar):
    rng = np.random.default_rng(12)
    codes = [f"L{i}" for i in rng.integers(0, 100000, 20000)] + [""]
    rc, out, err = run(jar, ["--big-levels-model"], stdin=write_csv(["code"], [[c] for c in codes]))
    assert rc == 0, err
    assert [r[0] for r in read_csv(out)[1:]] == codes
    long_value = "L" + "9" * 150
    rc, out, err = run(jar, ["--big-levels-model"], stdin=f"code\nL5\n{long_value}\n")
    assert rc == 2
    listed = ", ".join(f'"L{i}"' for i in range(20))
    assert err == (f'error: row 2 (line 3), column "code": unknown level "{long_value[:100]}..." '
                   f"(known levels: {listed}, ... (100000 levels))\n")


def test_check_levels(jar):
    rc, out, _ = run(jar, ["--check-levels", *COLOURS, ""])
    assert (rc, out) == (0, "ok\n")
    rc, out, _ = run(jar, ["--check-levels", "red", "Green"])
    assert rc == 4
    assert out == f'not allowed: Green\nIllegalArgumentException: column "colour": unknown level "Green" {KNOWN}\n'


def test_levels_on_a_float_column_are_refused(jar):
    rc, out, _ = run(jar, ["--bad-levels-spec"])
    assert (rc, out) == (0, 'IllegalArgumentException: input column "x0" has levels but is not a string column\n')


# ---------------------------------------------------------------------------------------------
# predictFloatRows, predictDoubleRows
# ---------------------------------------------------------------------------------------------


def predict(jar, model: str, x: np.ndarray, mode="--predict"):
    text = "".join(",".join("NaN" if v != v else repr(float(v)) for v in row) + "\n" for row in x)
    return run(jar, [mode, model], stdin=text)


def test_predict_float_rows(jar):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1500, 3)).astype(np.float32)
    rc, out, err = predict(jar, "linear", x)
    assert rc == 0, err
    y = np.array([[np.float32(float(v)) for v in line.split(",")] for line in out.splitlines()], dtype=np.float32)
    np.testing.assert_array_equal(y[:, 0], x[:, 0] + x[:, 1])
    np.testing.assert_array_equal(y[:, 1], np.float32(2) * x[:, 2])

    n = 2500  # several blocks
    u1 = rng.standard_normal(n).astype(np.float32)
    u0 = rng.standard_normal(n).astype(np.float32)
    k = rng.integers(-1000, 1000, n).astype(np.float32)
    rc, out, err = predict(jar, "numeric", np.stack([u1, k, u0], axis=1))
    assert rc == 0, err
    y = np.array([[np.float32(float(v)) for v in line.split(",")] for line in out.splitlines()], dtype=np.float32)
    total = (u0.astype(np.float64) + u1.astype(np.float64) + k.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(y, np.stack([u1, total, 2 * k, u0], axis=1))


def test_predict_float_rows_bad_arguments(jar):
    rc, out, _ = predict(jar, "numeric", np.array([[1.0, 2.0, 3.0], [1.0, 2.0]], dtype=object))
    assert rc == 3 and out == "IllegalArgumentException: row 1 has 2 values, expected 3\n"
    rc, out, _ = predict(jar, "numeric", np.array([[1.0, 2.5, 3.0]]))
    assert rc == 3 and 'column "k"' in out and "not an integer" in out
    rc, out, _ = predict(jar, "mixed", np.zeros((1, 4)))
    assert rc == 3 and "string tensor" in out


def _doubles(out: str) -> np.ndarray:
    return np.array([[float(v) for v in line.split(",")] for line in out.splitlines()])


def test_predict_double_rows_keeps_float64_exact(jar):
    rng = np.random.default_rng(8)
    n = 2500  # several blocks
    u1 = rng.standard_normal(n) * 10.0 ** rng.integers(-100, 100, n)
    u0 = rng.standard_normal(n)
    k = rng.integers(-(2**52), 2**52, n).astype(np.float64)  # exact in double, not in float32
    rc, out, err = predict(jar, "numeric", np.stack([u1, k, u0], axis=1), "--predict-double")
    assert rc == 0, err
    with np.errstate(over="ignore"):
        u1_32, u0_32 = u1.astype(np.float32).astype(np.float64), u0.astype(np.float32).astype(np.float64)
    # pair_1, sum, kk, pair_0: float32 outputs widened, float64 and int64 ones exact.
    np.testing.assert_array_equal(_doubles(out), np.stack([u1_32, u0 + u1 + k, 2 * k, u0_32], axis=1))


def test_predict_double_rows_narrows_as_numpy(jar):
    texts, want = midpoint_texts(np.random.default_rng(22), 500)
    x = np.zeros((len(texts), 3))
    x[:, 2] = x[:, 0] = [float(t) for t in texts]
    rc, out, err = predict(jar, "linear", x, "--predict-double")
    assert rc == 0, err
    y = _doubles(out)
    np.testing.assert_array_equal(y[:, 0], want.astype(np.float64))  # x0 + x1 with x1 = 0
    np.testing.assert_array_equal(y[:, 1], (np.float32(2) * want).astype(np.float64))


def test_predict_double_rows_bad_arguments(jar):
    rc, out, _ = predict(jar, "numeric", np.array([[1.0, 2.0, 3.0], [1.0, 2.0]], dtype=object), "--predict-double")
    assert rc == 3 and out == "IllegalArgumentException: row 1 has 2 values, expected 3\n"
    for bad, shown in [(2.5, "2.5"), (np.nan, "NaN"), (2.0**63, "9.223372036854776E18"),
                       (2.0**51 + 0.5, "2.2517998136852485E15")]:
        rc, out, _ = predict(jar, "numeric", np.array([[1.0, bad, 3.0]]), "--predict-double")
        assert rc == 3 and out == f'IllegalArgumentException: row 0, column "k": {shown} is not an integer\n', out
    rc, out, _ = predict(jar, "mixed", np.zeros((1, 4)), "--predict-double")
    assert rc == 3 and "string tensor" in out
