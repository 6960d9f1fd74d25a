# modelport: `make demo` and `make test` set up everything they need on a fresh machine.
PY := .venv/bin/python
JOBS ?= 2

.PHONY: setup demo test test-fast bench gpu-check light-models clean cmake-runtime

setup:
	@bash scripts/setup.sh

demo: setup
	bash examples/sklearn_pipeline/demo.sh
	bash examples/r_models/demo.sh

test: setup
	$(PY) -m pytest -q -n $(JOBS) --dist loadfile

bench: setup
	$(PY) benchmarks/run.py

# Parity of tvm-cuda artifacts on an NVIDIA GPU (builds them first; ARTIFACTS=dir checks
# artifacts built elsewhere). Without a GPU it builds and says so.
gpu-check: setup
	$(PY) scripts/gpu_check.py $(if $(ARTIFACTS),--artifacts $(ARTIFACTS),)

# Every model file the onnx wheel ships, through tvm-llvm and onnx, against its stored outputs
# (`make test` checks the quick ones).
light-models: setup
	MODELPORT_ALL_LIGHT_MODELS=1 $(PY) -m pytest -q -n $(JOBS) tests/e2e/test_onnx_light_models.py

cmake-runtime:
	cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build/cmake -j $(JOBS) && ctest --test-dir build/cmake --output-on-failure

clean:
	rm -rf build dist out .pytest_cache
