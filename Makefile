# adamant: the two commands that do everything on a fresh Debian machine are `make run` and `make test`.
PRESET ?= release
BUILD_DIR := build
PYTHON := /usr/bin/python3
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test test-cpp test-python run bench golden clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	cmake --preset $(PRESET)

build: configure
	cmake --build --preset $(PRESET) -j $(JOBS)

# C++ tests through CTest, then the Python tests (the drop-ins, and the adamant command end to end); each
# runner's summary is the last thing it prints.
test: build
	ctest --preset $(PRESET) -j $(JOBS)
	PYTHONPATH=$(BUILD_DIR)/python $(PYTHON) -m pytest tests/python tests/cli -q -p no:cacheprovider

test-cpp: build
	ctest --preset $(PRESET) -j $(JOBS)

test-python: build
	PYTHONPATH=$(BUILD_DIR)/python $(PYTHON) -m pytest tests/python tests/cli -q -p no:cacheprovider

# The main job: train an MLP with adamant's Adam on Fashion-MNIST (about three minutes on 2 cores); it
# prints where the metrics, the plot and the summary are. Options: make run RUN_ARGS="--epochs 5".
RUN_DIR ?= runs/mlp-adam
run: build
	$(BUILD_DIR)/apps/adamant/adamant train --out $(RUN_DIR) $(RUN_ARGS)

# The benchmark suite (docs/performance.md): its own build (build-bench/, with libtorch-dev), then one table
# and build-bench/bench.csv. Options: make bench BENCH_ARGS="--quick" (or --impl/--alg/--shape/--threads ...).
bench:
	@scripts/install-deps.sh --bench
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DADAMANT_BUILD_BENCH=ON \
	  -DADAMANT_BUILD_TESTS=OFF -DADAMANT_BUILD_PYTHON=OFF -DADAMANT_BUILD_EXAMPLES=OFF
	cmake --build build-bench -j $(JOBS) --target adamant_bench
	$(PYTHON) bench/run.py --build-dir build-bench $(BENCH_ARGS)

# Regenerates the golden trajectories from Debian's python3-torch (a reviewed change).
golden: deps
	$(PYTHON) tools/golden/generate.py

clean:
	rm -rf build build-*
