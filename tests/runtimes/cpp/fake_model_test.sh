#!/usr/bin/env bash
# ctest driver: runs the fake model's CSV program built by the top-level CMakeLists.txt.
set -u
exe="$1"
fail=0
out=$(printf 'x0,x1,x2\n1,2,3\n0.5,-1,NaN\n' | "$exe" --linear-model)
want=$'y0,y1\n3,6\n-0.5,NaN'
[ "$out" = "$want" ] || { echo "unexpected output: $out"; fail=1; }
printf 'x0,x1,x2\n1,abc,3\n' | "$exe" --linear-model >/dev/null 2>&1
[ $? -eq 2 ] || { echo "a bad value must exit 2"; fail=1; }
printf 'x0,x1\n1,2\n' | "$exe" --linear-model >/dev/null 2>&1
[ $? -eq 2 ] || { echo "a missing column must exit 2"; fail=1; }
exit $fail
