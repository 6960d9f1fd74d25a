#!/usr/bin/env bash
# The demo: train a pipeline over numeric and string columns, compile it to C++ and Java,
# check parity, then use the built program and jar on a few rows.
set -euo pipefail
cd "$(dirname "$0")"
PY=../../.venv/bin/python
MODELPORT=../../.venv/bin/modelport
OUT=../../out/churn

$PY train.py
$MODELPORT compile churn.skops -t cpp,java,onnx --data churn_sample.csv -o "$OUT"

echo
echo "== the C++ program on three rows =="
head -4 churn_sample.csv | "$OUT/cpp/bin/churn"
echo
echo "== the Java jar on the same rows =="
head -4 churn_sample.csv | java -jar "$OUT/java/churn.jar"
