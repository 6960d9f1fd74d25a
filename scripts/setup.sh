#!/usr/bin/env bash
# Sets up a fresh machine for modelport: system toolchains, then .venv with the pinned
# Python packages. Idempotent: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v g++ >/dev/null || need_apt+=(g++)
command -v javac >/dev/null || need_apt+=(default-jdk-headless)
command -v cmake >/dev/null || need_apt+=(cmake)
# The C++ programs' HTTP server (`bin/<name> serve`): Boost.Beast/Asio, header-only (compiled
# into the serve plugin: nothing needed at run time); wrk drives `make bench`.
# chromium: the tests open parity.html in a real headless browser (through playwright).
for p in libboost-dev wrk chromium; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
done
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || need_apt+=(python3)
"$PYTHON" -c "import venv, ensurepip" 2>/dev/null || need_apt+=(python3-venv)
# R and the R packages whose models modelport compiles (Debian's builds: CRAN is not needed).
R_PACKAGES=(r-base-core r-base-dev r-recommended r-cran-rpart r-cran-randomforest r-cran-ranger r-cran-gbm r-cran-glmnet
            r-cran-e1071 r-cran-caret r-cran-earth r-cran-recipes r-cran-pls r-cran-partykit r-cran-kernlab)
if [ "${MODELPORT_SKIP_R:-0}" != 1 ]; then
  for p in "${R_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
  done
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.modelport-setup
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python packages (pinned in requirements.lock)"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e . 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c "import modelport, sklearn, skl2onnx, onnxruntime"
  if [ "${MODELPORT_SKIP_R:-0}" != 1 ]; then
    TZ=UTC .venv/bin/python -c "import rpy2.robjects as ro; ro.r('suppressPackageStartupMessages({library(randomForest); library(caret)})')" >/dev/null
  fi
  echo "$want" > "$stamp"
fi
