# The README's commands. Each does its own set-up on a fresh Debian/Ubuntu machine:
# system packages (apt), a virtual environment in .venv, covekit installed editable
# with its dev extra. A second run only rebuilds what changed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
SYSTEM_STAMP := $(VENV)/.system-ok
BUILD_STAMP  := $(VENV)/.covekit-installed
NATIVE_SOURCES := $(shell find cpp cmake -type f 2>/dev/null) CMakeLists.txt pyproject.toml

# Shared test data beside the checkout (CI has it); tests skip what they cannot find.
export COVEKIT_TEST_DATA ?= $(abspath ../shared/data)
ifneq ($(wildcard $(COVEKIT_TEST_DATA)/tokenizers),)
export COVEKIT_TOKENIZER_DIR ?= $(COVEKIT_TEST_DATA)/tokenizers
endif

CTEST_ENV := COVEKIT_TEST_DATA=$(COVEKIT_TEST_DATA)
CMAKE := $(BIN)/cmake
JOBS  ?= 2

.PHONY: demo test test-cpp test-python bench lint clean setup

demo: $(BUILD_STAMP)
	$(BIN)/covekit demo

test: test-cpp test-python

setup: $(BUILD_STAMP)

$(SYSTEM_STAMP):
	PYTHON=$(PYTHON) bash tools/bootstrap-system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "scikit-build-core>=0.10" "pybind11>=2.13" "cmake>=3.18" ninja
	touch $@

# pip's build of the extension also builds the C++ unit tests (in Release, from the same
# objects of the core), so `make test` compiles the optimized core once.
RELEASE_BUILD := build/release
PIP_BUILD := --config-settings=build-dir=$(RELEASE_BUILD) \
    --config-settings=cmake.define.COVEKIT_BUILD_TESTS=ON \
    --config-settings=cmake.define.COVEKIT_BUILD_FUZZ=OFF

$(BUILD_STAMP): $(SYSTEM_STAMP) $(NATIVE_SOURCES)
	$(PY) -m pip install -q --no-build-isolation $(PIP_BUILD) -e ".[dev]"
	touch $@

# The llm extra (llama.cpp's server, for tests/test_llama_server.py) is installed for the
# tests only, in its own stamp: its first install builds llama.cpp from source (8-11
# minutes on 2 busy cores; LLAVA_BUILD=OFF skips the multimodal library the tests do
# not use, about a quarter of the build), and pip keeps that wheel in its cache
# (~/.cache/pip), so a new .venv reinstalls it in seconds. Its requirements are read
# from pyproject.toml, so covekit itself is not reinstalled; a changed pyproject.toml
# re-runs it (through BUILD_STAMP).
LLM_STAMP := $(VENV)/.llm-installed
$(LLM_STAMP): $(BUILD_STAMP)
	$(PY) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["llm"]))' >$(VENV)/llm-requirements.txt
	CMAKE_ARGS="$${CMAKE_ARGS:-} -DLLAVA_BUILD=OFF" $(PY) -m pip install -q -r $(VENV)/llm-requirements.txt
	touch $@

test-python: $(BUILD_STAMP) $(LLM_STAMP)
	$(PY) -m pytest

# The C++ tests, each build running only what it adds: the unit tests in the Release
# build pip made; the unit tests and the fuzz smoke runs under AddressSanitizer + UBSan;
# the threaded tests under ThreadSanitizer (a build of only the test files that hold
# them). The sanitizer builds use -O1 -g1: line tables are all a report needs.
SAN_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
    -DCOVEKIT_BUILD_PYTHON=OFF -DCOVEKIT_BUILD_TESTS=ON -Wno-dev

test-cpp: $(BUILD_STAMP)
	$(CTEST_ENV) $(BIN)/ctest --test-dir $(RELEASE_BUILD) --output-on-failure -j $(JOBS)
	$(CMAKE) -S . -B build/cpp-asan $(SAN_FLAGS) -DCOVEKIT_SANITIZE=address,undefined >/dev/null
	$(CMAKE) --build build/cpp-asan -j $(JOBS)
	$(CTEST_ENV) ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(BIN)/ctest --test-dir build/cpp-asan --output-on-failure -j $(JOBS)
	$(CMAKE) -S . -B build/cpp-tsan $(SAN_FLAGS) -DCOVEKIT_SANITIZE=thread \
	    -DCOVEKIT_TESTS_THREADED_ONLY=ON -DCOVEKIT_BUILD_FUZZ=OFF >/dev/null
	$(CMAKE) --build build/cpp-tsan -j $(JOBS)
	$(CTEST_ENV) TSAN_OPTIONS=halt_on_error=1 \
	    $(BIN)/ctest --test-dir build/cpp-tsan --output-on-failure -j $(JOBS) -R '[Tt]hread'

# hnswlib ships only an sdist whose setup.py needs `wheel` (no build isolation here).
bench: $(BUILD_STAMP)
	$(PY) -m pip install -q wheel
	$(PY) -m pip install -q $(PIP_BUILD) -e ".[bench]" --no-build-isolation
	$(PY) -m pytest tests/benchmarks -o 'python_files=bench_*.py' -p no:cacheprovider --benchmark-enable -s -q

lint: $(BUILD_STAMP)
	$(BIN)/ruff check python tests
	$(BIN)/mypy
	$(PY) -m mypy.stubtest covekit._core --allowlist .stubtest-allowlist

clean:
	rm -rf build .venv
