"""Wide rows (images flattened to tens of thousands of columns): the CSV programs read them in
blocks smaller than the usual 1,024 rows, so that a block's buffers stay near 64 MiB; every
row still comes out, in order."""
import subprocess

import numpy as np

from helpers import TensorProto, compile_and_check, single_op_model

WIDTH = 20_000  # 2 x 20,000 values x 8 bytes a row: blocks of 209 rows
ROWS = 450      # three blocks, the last one partial


def test_programs_stream_wide_rows_in_blocks(tmp_path):
    model = single_op_model("Neg", [("x", TensorProto.FLOAT, ["N", WIDTH])], [("y", TensorProto.FLOAT, ["N", WIDTH])])
    manifest = compile_and_check(model, tmp_path, targets=("cpp", "java"), name="wide", rows=16)
    header = ",".join(c["name"] for c in manifest["schema"]["inputs"])
    values = (np.arange(ROWS)[:, None] + np.arange(WIDTH)[None, :] % 7).astype(np.int64)
    text = header + "\n" + "\n".join(",".join(map(str, row)) for row in values) + "\n"
    out = tmp_path / "out"
    for cmd in ([str(out / "cpp" / "bin" / "wide")], ["java", "-jar", str(out / "java" / "wide.jar")]):
        proc = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        lines = proc.stdout.splitlines()
        assert len(lines) == ROWS + 1
        for r in (0, 208, 209, 210, 418, 449):
            got = np.array(lines[r + 1].split(","), dtype=np.float64)
            np.testing.assert_array_equal(got, -values[r])
