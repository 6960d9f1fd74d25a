"""Tests of the C++ runtime (runtimes/cpp/modelport_runtime.hpp).

A hand-written fake model (fixtures/fake_model.cpp) is compiled with g++ into a CSV program
and a shared library; the program is run on real CSV input and predict_float_rows and
predict_double_rows are called through ctypes.
"""

from __future__ import annotations

import csv
import ctypes
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers import midpoint_texts

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_DIR = ROOT / "runtimes" / "cpp"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "fake_model.cpp"

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not available")

HEADER_OUT = ["label", "prob,0", 'prob "1"', "s (echo)"]
IN_COLS = ["a", "b c", "d/(e)", "s"]


class Built:
    def __init__(self, exe: Path, exe_printf: Path, lib: Path):
        self.exe = exe
        self.exe_printf = exe_printf
        self.lib = lib


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    d = tmp_path_factory.mktemp("cpp_runtime")
    flags = ["-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Werror", f"-I{RUNTIME_DIR}"]
    exe, lib, exe_printf = d / "fake_model", d / "libfake.so", d / "fake_model_printf"
    impl = str(RUNTIME_DIR / "modelport_runtime.cpp")
    # The snprintf fallback (no floating-point std::to_chars) is built alongside, unoptimized.
    jobs = [
        subprocess.Popen(["g++", "-O2", *flags, str(FIXTURE), impl, "-o", str(exe)],
                         stderr=subprocess.PIPE, text=True),
        subprocess.Popen(["g++", "-O2", "-fPIC", "-shared", *flags, str(FIXTURE), impl, "-o", str(lib)],
                         stderr=subprocess.PIPE, text=True),
        subprocess.Popen(["g++", "-O0", "-DMODELPORT_NO_TO_CHARS", *flags, str(FIXTURE), impl, "-o", str(exe_printf)],
                         stderr=subprocess.PIPE, text=True),
    ]
    for job in jobs:
        _, err = job.communicate(timeout=300)
        assert job.returncode == 0, err
    return Built(exe, exe_printf, lib)


def run(built: Built, args=(), stdin: str | bytes = "", exe: Path | None = None):
    data = stdin.encode() if isinstance(stdin, str) else stdin
    r = subprocess.run([str(exe or built.exe), *args], input=data, capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def write_csv(header, rows, lineterminator="\n") -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator=lineterminator)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def fmt(value, precision: int) -> str:
    """The C++ runtime's number format: %.9g (float32) / %.17g (float64), NaN, inf, -inf."""
    v = float(value)
    if np.isnan(v):
        return "NaN"
    return "%.*g" % (precision, v)


def random_f32(rng, n):
    v = rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)
    return v.astype(np.float32)


def random_strings(rng, n):
    pieces = ["x", "y z", ",", '"', "/", "(", ")", " ", "é", "\n", "\r\n", "1.5", ""]
    return ["".join(rng.choice(pieces, rng.integers(0, 5))) for _ in range(n)]


def mixed_expected(a, b, d, s):
    """Rows the mixed fake model must produce, as (label, prob0, prob1, echo) tuples."""
    a, b, d = (np.asarray(v, dtype=np.float32) for v in (a, b, d))
    with np.errstate(invalid="ignore", over="ignore"):
        label = ((a + b) > 0).astype(np.int64)
        prob1 = b + d
    return [(int(label[i]), a[i], prob1[i], s[i]) for i in range(len(s))]


def check_mixed_output(out: str, expected):
    rows = read_csv(out)
    assert rows[0] == HEADER_OUT
    assert len(rows) == len(expected) + 1
    for got, (label, p0, p1, echo) in zip(rows[1:], expected):
        assert got == [str(label), fmt(p0, 9), fmt(p1, 9), echo]


# ---------------------------------------------------------------------------------------------
# CSV program
# ---------------------------------------------------------------------------------------------


def test_round_trip_and_quoting(built):
    rng = np.random.default_rng(1)
    n = 300
    a, b, d = random_f32(rng, n), random_f32(rng, n), random_f32(rng, n)
    s = random_strings(rng, n)
    # a and d as their shortest float32 text, b with 17 digits (must round to float32 correctly).
    b_text = ["%.17g" % float(v) for v in b]
    b_f32 = [np.float32(float(t)) for t in b_text]
    rows = [[str(a[i]), b_text[i], str(d[i]), s[i]] for i in range(n)]
    rc, out, err = run(built, stdin=write_csv(IN_COLS, rows))
    assert rc == 0, err
    assert err == ""
    check_mixed_output(out, mixed_expected(a, b_f32, d, s))
    # The header is quoted where needed, the rest not.
    assert out.splitlines()[0] == 'label,"prob,0","prob ""1""",s (echo)'


def test_string_quoting_on_output(built):
    values = ["plain", "a,b", 'say "hi"', " lead", "trail ", "two\nlines", "", "x/(y)", "crlf\r\nz"]
    rows = [["1", "1", "1", v] for v in values]
    rc, out, err = run(built, stdin=write_csv(IN_COLS, rows))
    assert rc == 0, err
    lines = out.split("\n")
    assert lines[1] == "1,1,2,plain"
    assert lines[2] == '1,1,2,"a,b"'
    assert lines[3] == '1,1,2,"say ""hi"""'
    assert lines[4] == '1,1,2," lead"'
    assert lines[5] == '1,1,2,"trail "'
    assert [r[3] for r in read_csv(out)[1:]] == values


def test_column_order_does_not_matter(built):
    rows = [["0.5", "-0.25", "3", "p"], ["-2", "1", "nan", "q,r"]]
    rc1, out1, _ = run(built, stdin=write_csv(IN_COLS, rows))
    order = [3, 2, 0, 1]
    rc2, out2, _ = run(built, stdin=write_csv([IN_COLS[i] for i in order], [[r[i] for i in order] for r in rows]))
    assert rc1 == rc2 == 0
    assert out1 == out2
    assert read_csv(out1)[1:] == [["1", "0.5", "2.75", "p"], ["0", "-2", "NaN", "q,r"]]


def test_missing_column(built):
    rc, out, err = run(built, stdin="a,s\n1,x\n")
    assert rc == 2
    assert '"b c"' in err and '"d/(e)"' in err and "missing" in err
    assert err.startswith("error: ")
    assert out == ""


def test_extra_column(built):
    text = write_csv(IN_COLS + ["extra, col"], [["1", "2", "3", "x", "ignored"]])
    rc, out, err = run(built, stdin=text)
    assert rc == 2
    assert '"extra, col"' in err and "--allow-extra-columns" in err
    rc, out, err = run(built, ["--allow-extra-columns"], stdin=text)
    assert rc == 0, err
    assert read_csv(out) == [HEADER_OUT, ["1", "1", "5", "x"]]


def test_duplicate_column(built):
    rc, out, err = run(built, stdin="a,b c,d/(e),s,a\n1,2,3,x,1\n")
    assert rc == 2
    assert 'duplicate column name "a"' in err


def test_unparsable_number(built):
    rows = [["1", "2", "3", "x"], ["1", "2", "3", "y"], ["1", "abc", "3", "z"], ["1", "2", "3", "w"]]
    rc, out, err = run(built, stdin=write_csv(IN_COLS, rows))
    assert rc == 2
    assert err == 'error: row 3 (line 4), column "b c": cannot parse "abc" as a number\n'
    assert out.splitlines() == ['label,"prob,0","prob ""1""",s (echo)']  # nothing of the failed block


@pytest.mark.parametrize("bad", ["1.2.3", "1e", "0x10", "1,5", "--1", "inf inity", "1 2", "e5", ".", "1f"])
def test_number_syntax_errors(built, bad):
    rc, _, err = run(built, stdin=write_csv(IN_COLS, [["1", "2", bad, "x"]]))
    assert rc == 2
    assert err.startswith('error: row 1 (line 2), column "d/(e)": cannot parse')


def test_wrong_field_count(built):
    text = "a,b c,d/(e),s\n1,2,3,x\n1,2,3,x\n1,2,3,x\n1,2,3,x\n1,2,3\n"
    rc, out, err = run(built, stdin=text)
    assert rc == 2
    assert err == "error: row 5 (line 6): expected 4 fields, found 3\n"
    rc, _, err = run(built, stdin="a,b c,d/(e),s\n1,2,3,x,5\n")
    assert err == "error: row 1 (line 2): expected 4 fields, found 5\n"


def test_line_numbers_count_quoted_newlines(built):
    text = 'a,b c,d/(e),s\n1,2,3,"two\nlines"\n1,2,zz,x\n'
    rc, _, err = run(built, stdin=text)
    assert rc == 2
    assert err == 'error: row 2 (line 4), column "d/(e)": cannot parse "zz" as a number\n'


def test_malformed_quotes(built):
    rc, _, err = run(built, stdin='a,b c,d/(e),s\n1,2,3,"open\n')
    assert rc == 2 and "row 1 (line 2)" in err and "unterminated" in err
    rc, _, err = run(built, stdin='a,b c,d/(e),s\n1,2,3,"ab"c\n')
    assert rc == 2 and "row 1 (line 2)" in err and "closing quote" in err


def test_missing_and_special_values(built):
    rows = [
        ["", "1", "2", "empty"],
        ["NaN", "1", "2", "NaN"],
        ["nan", " 1.5 ", "\t-2\t", "spaces"],
        ["NAN", "inf", "-inf", "inf"],
        ["1", "Infinity", "-Infinity", "infinity"],
        ["+1e-3", "-0", ".5", "signs"],
        ["1e39", "1e-50", "3.", "overflow"],
    ]
    rc, out, err = run(built, stdin=write_csv(IN_COLS, rows))
    assert rc == 0, err
    assert read_csv(out)[1:] == [
        ["0", "NaN", "3", "empty"],
        ["0", "NaN", "3", "NaN"],
        ["0", "NaN", "-0.5", "spaces"],
        ["0", "NaN", "NaN", "inf"],
        ["1", "1", "NaN", "infinity"],
        ["1", "0.00100000005", "0.5", "signs"],
        ["1", "inf", "3", "overflow"],
    ]


def test_help_and_schema(built):
    rc, out, err = run(built, ["--help"])
    assert rc == 0 and err == ""
    assert "standard input" in out and "standard output" in out
    for name in ["a", "b c", "d/(e)", "s", "label", '"prob,0"', '"prob ""1"""', "s (echo)"]:
        assert f"  {name} " in out
    assert "--allow-extra-columns" in out and "--schema" in out
    rc, out, err = run(built, ["--schema"])
    assert rc == 0
    assert out == (
        "Model: fake_mixed\nInputs: X float32[3] (a, b c, d/(e)); s string\n"
        "Outputs: label int64; prob float32[2]; echo string\n"
    )
    # Without a description, --schema lists the columns.
    rc, out, _ = run(built, ["--numeric-model", "--schema"])
    assert rc == 0 and "u0" in out and "pair_1" in out


def test_unknown_flag_and_argument(built):
    rc, out, err = run(built, ["--frobnicate"], stdin="a\n")
    assert rc == 2 and '"--frobnicate"' in err and out == ""
    rc, out, err = run(built, ["input.csv"], stdin="a\n")
    assert rc == 2 and '"input.csv"' in err


def test_empty_input(built):
    rc, out, err = run(built, stdin="")
    assert rc == 2 and "empty input" in err
    rc, out, err = run(built, stdin="\n")
    assert rc == 2 and "empty input" in err


def test_crlf_and_trailing_lines(built):
    rows = [["1", "2", "3", "x"], ["-1", "0.5", "", "two\r\nlines"], ["4", "5", "6", ""]]
    lf = write_csv(IN_COLS, rows)
    crlf = write_csv(IN_COLS, rows, lineterminator="\r\n")
    rc, expected, err = run(built, stdin=lf)
    assert rc == 0, err
    for variant in (crlf, crlf + "\r\n", lf + "\n\n", lf.rstrip("\n"), crlf.rstrip("\r\n")):
        rc, out, err = run(built, stdin=variant)
        assert rc == 0, err
        assert out == expected
    # A blank line before the end is a row (with one field).
    rc, _, err = run(built, stdin="a,b c,d/(e),s\n\n1,2,3,x\n")
    assert rc == 2 and err == "error: row 1 (line 2): expected 4 fields, found 1\n"


def test_utf8_bom(built):
    rc, out, err = run(built, stdin=b"\xef\xbb\xbfa,b c,d/(e),s\n1,2,3,\xc3\xa9\n")
    assert rc == 0, err
    assert read_csv(out)[1] == ["1", "1", "5", "é"]


def test_many_rows_in_blocks(built):
    rng = np.random.default_rng(7)
    n = 5000
    a, b, d = random_f32(rng, n), random_f32(rng, n), random_f32(rng, n)
    a[rng.random(n) < 0.05] = np.nan
    s = random_strings(rng, n)
    rows = [["" if np.isnan(a[i]) else str(a[i]), str(b[i]), str(d[i]), s[i]] for i in range(n)]
    rc, out, err = run(built, stdin=write_csv(["s", "d/(e)", "b c", "a"], [r[::-1] for r in rows]))
    assert rc == 0, err
    check_mixed_output(out, mixed_expected(a, b, d, s))
    # An error in a later block: the earlier blocks were written, nothing after.
    rows[2500][1] = "oops"
    rc, out, err = run(built, stdin=write_csv(IN_COLS, rows))
    assert rc == 2
    assert 'error: row 2501 (line ' in err and 'column "b c": cannot parse "oops"' in err
    assert len(read_csv(out)) == 1 + 2048


def test_float64_and_int64_columns(built):
    rng = np.random.default_rng(3)
    n = 2000
    u0 = rng.standard_normal(n) * 10.0 ** rng.integers(-200, 200, n)
    u1 = rng.standard_normal(n)
    k = rng.integers(-(2**60), 2**60, n)
    k[:5] = [0, 1, -1, 2**60, -(2**60)]
    rows = [[repr(float(u1[i])), str(int(k[i])), repr(float(u0[i]))] for i in range(n)]
    rows[0][1] = "+7"
    rows[1][1] = " -3 "
    k[0], k[1] = 7, -3
    rc, out, err = run(built, ["--numeric-model"], stdin=write_csv(["u1", "k", "u0"], rows))
    assert rc == 0, err
    got = read_csv(out)
    assert got[0] == ["pair_1", "sum", "kk", "pair_0"]
    with np.errstate(over="ignore"):
        pair0, pair1 = u0.astype(np.float32), u1.astype(np.float32)
    for i, row in enumerate(got[1:]):
        total = float(u0[i]) + float(u1[i]) + float(k[i])
        assert row == [fmt(pair1[i], 9), fmt(total, 17), str(2 * int(k[i])), fmt(pair0[i], 9)]
        assert float(row[1]) == total  # %.17g reads back exactly


@pytest.mark.parametrize("bad", ["1.5", "", "1e3", "abc", "99999999999999999999", "+-1", "NaN"])
def test_int64_parse_errors(built, bad):
    rc, _, err = run(built, ["--numeric-model"], stdin=f"u0,u1,k\n1,2,{bad}\n")
    assert rc == 2
    assert err == f'error: row 1 (line 2), column "k": cannot parse "{bad}" as an integer\n'


def test_snprintf_fallback_matches(built):
    rng = np.random.default_rng(11)
    n = 400
    a, b, d = random_f32(rng, n), random_f32(rng, n), random_f32(rng, n)
    text = write_csv(IN_COLS, [[str(a[i]), str(b[i]), str(d[i]), "s"] for i in range(n)])
    rc1, out1, _ = run(built, stdin=text)
    rc2, out2, _ = run(built, stdin=text, exe=built.exe_printf)
    assert rc1 == rc2 == 0
    assert out1 == out2
    text = "u0,u1,k\n" + "".join(f"{float(x)!r},{float(y)!r},1\n" for x, y in zip(rng.standard_normal(n) * 1e300, rng.standard_normal(n) * 1e-300))
    rc1, out1, _ = run(built, ["--numeric-model"], stdin=text)
    rc2, out2, _ = run(built, ["--numeric-model"], stdin=text, exe=built.exe_printf)
    assert rc1 == rc2 == 0
    assert out1 == out2


def test_float32_columns_parse_to_double_then_narrow(built):
    texts, want = midpoint_texts(np.random.default_rng(21), 300)
    assert want[-1] == np.float32(1.8685029)  # strtof gives 1.86850274
    rows = [["0", "0", t] for t in texts]
    rc, out, err = run(built, ["--linear-model"], stdin=write_csv(["x0", "x1", "x2"], rows))
    assert rc == 0, err
    got = np.array([np.float32(float(r[1])) for r in read_csv(out)[1:]], dtype=np.float32)
    np.testing.assert_array_equal(got, np.float32(2) * want)  # y1 = 2 x2, exact


def test_invalid_spec_is_refused(built):
    rc, out, err = run(built, ["--invalid-model"], stdin="x0,x1\n1,2\n")
    assert rc == 3
    assert "invalid model spec" in err and "element 2" in err


# ---------------------------------------------------------------------------------------------
# Closed string columns (known levels)
# ---------------------------------------------------------------------------------------------

COLOURS = ["red", "green", 'bl"ue, \\ */', "ü"]
KNOWN = '(known levels: "red", "green", "bl"ue, \\ */", "ü")'


def test_closed_column_accepts_its_levels_and_empty(built):
    rows = [[c, f"s{i}", str(i)] for i, c in enumerate(COLOURS + ["", "red"])]
    rc, out, err = run(built, ["--closed-model"], stdin=write_csv(["colour", "size", "x"], rows))
    assert rc == 0, err
    assert read_csv(out) == [["colour out", "size out", "y"]] + [[c, s, x] for c, s, x in rows]
    # The open column beside it takes anything.
    rc, out, err = run(built, ["--closed-model"], stdin=write_csv(["x", "size", "colour"], [["1", "new, value", "red"]]))
    assert rc == 0, err


@pytest.mark.parametrize("bad", ["blue", "Red", " red", "red ", 'bl"ue', "üx", "u\u0308"])
def test_closed_column_rejects_unknown_level(built, bad):
    rows = [["red", "a", "1"], ["green", "b", "2"], [bad, "c", "3"], ["red", "d", "4"]]
    rc, out, err = run(built, ["--closed-model"], stdin=write_csv(["colour", "size", "x"], rows))
    assert rc == 2
    assert err == f'error: row 3 (line 4), column "colour": unknown level "{bad}" {KNOWN}\n'
    assert out == "colour out,size out,y\n"  # nothing of the failed block


def test_closed_column_error_in_a_later_block(built):
    rows = [["red", "s", "1"]] * 3000
    rows[2100] = ["violet", "s", "1"]
    rc, out, err = run(built, ["--closed-model"], stdin=write_csv(["colour", "size", "x"], rows))
    assert rc == 2
    assert err == f'error: row 2101 (line 2102), column "colour": unknown level "violet" {KNOWN}\n'
    assert len(read_csv(out)) == 1 + 2048


def test_many_levels(built):
    rng = np.random.default_rng(12)
    codes = [f"L{i}" for i in rng.integers(0, 100000, 20000)] + [""]
    rc, out, err = run(built, ["--big-levels-model"], stdin=write_csv(["code"], [[c] for c in codes]))
    assert rc == 0, err
    assert [r[0] for r in read_csv(out)[1:]] == codes
    long_value = "L" + "9" * 150
    rc, out, err = run(built, ["--big-levels-model"], stdin=f"code\nL5\n{long_value}\n")
    assert rc == 2
    listed = ", ".join(f'"L{i}"' for i in range(20))
    assert err == (f'error: row 2 (line 3), column "code": unknown level "{long_value[:100]}..." '
                   f"(known levels: {listed}, ... (100000 levels))\n")


def test_level_index_check(built):
    r = subprocess.run([str(built.exe), "--check-levels", *COLOURS, ""], capture_output=True, timeout=60)
    assert (r.returncode, r.stdout.decode()) == (0, "ok\n")
    r = subprocess.run([str(built.exe), "--check-levels", "red", "Green"], capture_output=True, timeout=60)
    assert r.returncode == 4
    assert r.stdout.decode() == f'not allowed: Green\ninvalid_argument: column "colour": unknown level "Green" {KNOWN}\n'


def test_levels_on_a_float_column_are_refused(built):
    rc, out, err = run(built, ["--bad-levels-model"], stdin="x0,x1,x2\n1,2,3\n")
    assert rc == 3
    assert err == 'internal error: invalid model spec: input column "x1" has levels but is not a string column\n'


# ---------------------------------------------------------------------------------------------
# predict_float_rows through the C ABI
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lib(built):
    so = ctypes.CDLL(str(built.lib))
    for model in ("numeric", "linear", "mixed"):
        for suffix in ("", "_f64"):
            fn = getattr(so, f"fake_{model}_predict{suffix}")
            fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
            fn.restype = ctypes.c_int
    return so


def call(fn, x: np.ndarray, n_out: int, n_rows: int | None = None, dtype=np.float32):
    x = np.ascontiguousarray(x, dtype=dtype)
    y = np.full((x.shape[0], n_out), -123.0, dtype=dtype)
    rc = fn(x.ctypes.data, x.shape[0] if n_rows is None else n_rows, y.ctypes.data)
    return rc, y


def test_predict_float_rows_fast_path(lib):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3000, 3)).astype(np.float32)
    rc, y = call(lib.fake_linear_predict, x, 2)
    assert rc == 0
    np.testing.assert_array_equal(y[:, 0], x[:, 0] + x[:, 1])
    np.testing.assert_array_equal(y[:, 1], np.float32(2) * x[:, 2])


def test_predict_float_rows_mapped_columns(lib):
    rng = np.random.default_rng(6)
    n = 2500  # several blocks
    u1 = rng.standard_normal(n).astype(np.float32)
    u0 = rng.standard_normal(n).astype(np.float32)
    k = rng.integers(-1000, 1000, n).astype(np.float32)
    x = np.stack([u1, k, u0], axis=1)  # input column order: u1, k, u0
    rc, y = call(lib.fake_numeric_predict, x, 4)
    assert rc == 0
    total = (u0.astype(np.float64) + u1.astype(np.float64) + k.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(y, np.stack([u1, total, 2 * k, u0], axis=1))  # pair_1, sum, kk, pair_0


def test_predict_float_rows_bad_arguments(lib):
    x = np.zeros((2, 3), dtype=np.float32)
    y = np.zeros((2, 4), dtype=np.float32)
    assert lib.fake_numeric_predict(x.ctypes.data, -1, y.ctypes.data) != 0
    assert lib.fake_numeric_predict(None, 2, y.ctypes.data) != 0
    assert lib.fake_numeric_predict(x.ctypes.data, 2, None) != 0
    assert lib.fake_numeric_predict(None, 0, None) == 0
    # int64 input given a non-integer
    rc, _ = call(lib.fake_numeric_predict, np.array([[1.0, 2.5, 3.0]]), 4)
    assert rc != 0
    rc, _ = call(lib.fake_numeric_predict, np.array([[1.0, np.nan, 3.0]]), 4)
    assert rc != 0
    # string tensors are not allowed through the float C ABI
    rc, _ = call(lib.fake_mixed_predict, np.zeros((1, 4)), 4)
    assert rc != 0


# ---------------------------------------------------------------------------------------------
# predict_double_rows through the C ABI
# ---------------------------------------------------------------------------------------------


def test_predict_double_rows_keeps_float64_exact(lib):
    rng = np.random.default_rng(8)
    n = 2500  # several blocks
    u1 = rng.standard_normal(n) * 10.0 ** rng.integers(-100, 100, n)
    u0 = rng.standard_normal(n)
    k = rng.integers(-(2**52), 2**52, n).astype(np.float64)  # exact in double, not in float32
    rc, y = call(lib.fake_numeric_predict_f64, np.stack([u1, k, u0], axis=1), 4, dtype=np.float64)
    assert rc == 0
    with np.errstate(over="ignore"):
        u1_32, u0_32 = u1.astype(np.float32).astype(np.float64), u0.astype(np.float32).astype(np.float64)
    # pair_1, sum, kk, pair_0: float32 outputs widened, float64 and int64 ones exact.
    np.testing.assert_array_equal(y, np.stack([u1_32, u0 + u1 + k, 2 * k, u0_32], axis=1))


def test_predict_double_rows_narrows_as_numpy(lib):
    texts, want = midpoint_texts(np.random.default_rng(22), 500)
    x = np.zeros((len(texts), 3))
    x[:, 2] = [float(t) for t in texts]
    x[:, 0] = x[:, 2]
    rc, y = call(lib.fake_linear_predict_f64, x, 2, dtype=np.float64)
    assert rc == 0
    np.testing.assert_array_equal(y[:, 0], want.astype(np.float64))  # x0 + x1 with x1 = 0
    np.testing.assert_array_equal(y[:, 1], (np.float32(2) * want).astype(np.float64))


def test_predict_double_rows_bad_arguments(lib):
    fn = lib.fake_numeric_predict_f64
    x = np.zeros((2, 3))
    y = np.zeros((2, 4))
    assert fn(x.ctypes.data, -1, y.ctypes.data) == 1
    assert fn(None, 2, y.ctypes.data) == 1
    assert fn(x.ctypes.data, 2, None) == 1
    assert fn(None, 0, None) == 0
    # int64 input given a non-integer, NaN, or a value outside int64
    for bad in (2.5, np.nan, np.inf, 2.0**63, -(2.0**64), 2.0**51 + 0.5):
        rc, _ = call(fn, np.array([[1.0, bad, 3.0]]), 4, dtype=np.float64)
        assert rc == 3, bad
    rc, y = call(fn, np.array([[1.0, -(2.0**62), 3.0]]), 4, dtype=np.float64)
    assert rc == 0 and y[0, 2] == -(2.0**63)  # kk = 2k
    # string tensors are not allowed through the C ABI
    rc, _ = call(lib.fake_mixed_predict_f64, np.zeros((1, 4)), 4, dtype=np.float64)
    assert rc == 2
