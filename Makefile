# adamant: the two commands that do everything on a fresh Debian machine are `make run` and `make test`.
PRESET ?= release
BUILD_DIR := build
PYTHON := /usr/bin/python3
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test test-cpp test-python pytest test-asan test-fuzz fuzz-corpus run bench golden clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	cmake --preset $(PRESET)

build: configure
	cmake --build --preset $(PRESET) -j $(JOBS)

# C++ tests through CTest, the Python tests (the drop-ins, and the adamant command end to end) side by
# side with the checkpoint fuzzer's build and run (pytest keeps about one core busy, the fuzzer's build
# takes the other; each one's output is printed whole when it ends), then the C++ unit tests under the
# sanitizers; each runner's summary is the last thing it prints.
test: build
	ctest --preset $(PRESET) -j $(JOBS)
	$(MAKE) --no-print-directory -j 2 --output-sync=target pytest test-fuzz
	$(MAKE) --no-print-directory test-asan

test-cpp: build
	ctest --preset $(PRESET) -j $(JOBS)

test-python: build
	$(MAKE) --no-print-directory pytest

pytest:
	PYTHONPATH=$(BUILD_DIR)/python $(PYTHON) -m pytest tests/python tests/cli -q -p no:cacheprovider

# The C++ unit tests (label `unit`) under AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan/;
# divisor_test (exhaustive arithmetic on locals, minutes when instrumented) runs in the release build only.
ASAN_TARGETS := core_test rules_test kernels_test precision_test validation_test checkpoint_test reliability_test
test-asan: deps
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS) --target $(ASAN_TARGETS)
	ctest --preset asan -j $(JOBS)

# The checkpoint loader's fuzzer (clang, libFuzzer, ASan, UBSan; build-fuzz/) for FUZZ_SECONDS, from the
# committed seeds and regression cases; new inputs go to build-fuzz/corpus, a failing one to
# build-fuzz/artifacts/ (fix the bug, then add the input to fuzz/regressions).
FUZZ_SECONDS ?= 20
test-fuzz: deps
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS) --target checkpoint_fuzzer
	mkdir -p build-fuzz/corpus build-fuzz/artifacts
	build-fuzz/fuzz/checkpoint_fuzzer -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
	  -artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 build-fuzz/corpus fuzz/corpus $(wildcard fuzz/regressions)

# Regenerates the fuzzer's seed corpus (fuzz/corpus) from fuzz/checkpoint_harness.cc's SeedCorpus().
fuzz-corpus: build
	$(BUILD_DIR)/tests/checkpoint_seed_corpus fuzz/corpus

# The main job: train an MLP with adamant's Adam on Fashion-MNIST (about three minutes on 2 cores); it
# prints where the metrics, the plot and the summary are. Options: make run RUN_ARGS="--epochs 5".
RUN_DIR ?= runs/mlp-adam
run: build
	$(BUILD_DIR)/apps/adamant/adamant train --out $(RUN_DIR) --overwrite $(RUN_ARGS)

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
