#!/usr/bin/env bash
# The R demo: fit a glm with factors in R, save it with saveRDS, compile the .rds to C++
# and Java with parity against R's predict(), then run the built program and jar.
set -euo pipefail
cd "$(dirname "$0")"
MODELPORT=../../.venv/bin/modelport
OUT=../../out/esoph_glm

Rscript train.R
$MODELPORT compile esoph_glm.rds -t cpp,java,onnx --data esoph_sample.csv -o "$OUT"

echo
echo "== the C++ program on the sample rows =="
"$OUT/cpp/bin/esoph_glm" < esoph_sample.csv
echo
echo "== the Java jar on the same rows =="
java -jar "$OUT/java/esoph_glm.jar" < esoph_sample.csv
echo
echo "== an age group the model has never seen is an error, as it is in R =="
printf 'agegp,alcgp,tobgp\n99+,0-39g/day,0-9g/day\n' | "$OUT/cpp/bin/esoph_glm" || echo "(exit code $?)"
