# The two commands: `make run` (the main job) and `make test` (the whole test suite).
# Both install missing Debian packages, configure and build on their own.
SHELL := /bin/bash
DEB_PACKAGES := cmake g++ make libopenblas-dev libcli11-dev nlohmann-json3-dev libpng-dev \
                libstb-dev libgtest-dev gnuplot-nox libdnnl-dev doxygen zlib1g-dev \
                libeigen3-dev libonnx-dev libprotobuf-dev openmpi-bin libopenmpi-dev \
                libxsmm-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DATA_DIR ?= $(if $(CIFAR10_DIR),$(CIFAR10_DIR),data/cifar-10-batches-bin)
JOBS ?= $(shell nproc)

.PHONY: run test deps release debug data clean fuzz fixtures examples docs ort

run: release data
	./build/release/nabla reproduce --data_dir "$(DATA_DIR)" --out results

test: deps ort
	cmake --preset release >/dev/null && cmake --build --preset release -j $(JOBS)
	NABLA_REQUIRE_ORT=1 ctest --preset release -j $(JOBS)
	NABLA_REQUIRE_ORT=1 bash scripts/check_examples.sh build/release
	cmake --preset debug >/dev/null && cmake --build --preset debug -j $(JOBS)
	NABLA_REQUIRE_ORT=1 ctest --preset debug -j $(JOBS)

# $(call install_missing,PACKAGES): apt-get installs those of PACKAGES that are not installed.
define install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	  | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install_missing,$(DEB_PACKAGES))

# ONNX Runtime for the ONNX export tests: the npm package onnxruntime-node, whose CPU library
# ships inside it (--ignore-scripts: its install script only fetches GPU files), in build/ort.
ORT_VERSION := 1.23.2
ort:
	@command -v node >/dev/null && command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm; }
	@test -f build/ort/node_modules/onnxruntime-node/package.json || \
	  npm install --ignore-scripts --no-audit --no-fund --silent --prefix build/ort \
	    onnxruntime-node@$(ORT_VERSION)

release: deps
	cmake --preset release >/dev/null && cmake --build --preset release -j $(JOBS)

debug: deps
	cmake --preset debug >/dev/null && cmake --build --preset debug -j $(JOBS)

data: release
	@command -v npm >/dev/null || command -v curl >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm curl; }
	bash scripts/fetch_cifar10.sh "$(DATA_DIR)" ./build/release/nabla

# The API reference of the public headers (Doxygen), as HTML in build/docs/html; the warnings,
# one per undocumented type or function, go to build/docs/warnings.log and are printed.
docs:
	$(call install_missing,doxygen)
	@mkdir -p build/docs && doxygen docs/Doxyfile
	@echo "API reference: build/docs/html/index.html ($$(wc -l < build/docs/warnings.log) warnings)"
	@cat build/docs/warnings.log

# Installs the release build into a temporary prefix and builds and runs every example against it.
examples: release
	bash scripts/check_examples.sh build/release

clean:
	rm -rf build

# Builds the libFuzzer targets (clang) and runs each briefly on a copy of its seed corpus.
FUZZ_SECONDS ?= 15
FUZZ_TARGETS := cifar png_sheets safetensors image cifar100 idx model_file
fuzz: deps
	$(call install_missing,clang-14 libclang-rt-14-dev libomp-14-dev)
	cmake --preset fuzz >/dev/null && cmake --build --preset fuzz -j $(JOBS) --target $(FUZZ_TARGETS:%=fuzz_%)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  work=$$(mktemp -d); cp -r fuzz/corpus/$$t/. $$work/; rc=0; \
	  ./build/fuzz/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    -print_final_stats=1 $$work > $$work.log 2>&1 || rc=$$?; \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s, $$(grep -o 'number_of_executed_units: [0-9]*' $$work.log | cut -d' ' -f2) runs, exit $$rc"; \
	  if [ $$rc -ne 0 ]; then tail -40 $$work.log; fi; \
	  rm -rf $$work $$work.log; test $$rc -eq 0; \
	done

# Rewrites the PyTorch parity fixtures in tests/fixtures/ (needs Debian's python3-torch).
fixtures:
	$(call install_missing,python3-torch python3-numpy)
	/usr/bin/python3 tests/fixtures/make_fixtures.py
