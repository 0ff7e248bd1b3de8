# SPDX-License-Identifier: MIT
# Thin wrapper over meson/ninja. `make run` and `make test` are the two commands a fresh
# Debian 12 machine needs: both install what is missing first.
BUILD      ?= build
SANBUILD   ?= build-sanitize
CONFIG     ?= contrib/examples/gafferd.ini
MESON_OPTS ?=
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 60

.PHONY: help deps build run test sanitize fuzz bench install format clean

help:
	@echo "make deps      install the Debian and npm packages the build and the tests need"
	@echo "make build     configure and build into $(BUILD)/"
	@echo "make run       build, then run gafferd in the foreground on $(CONFIG)"
	@echo "make test      build, then run every test suite (unit, system, integration, fuzz, lint)"
	@echo "make sanitize  the same suites under ASan+UBSan, in $(SANBUILD)/"
	@echo "make fuzz      build every libFuzzer target with clang and fuzz each for FUZZ_SECONDS (60)"
	@echo "make bench     run the benchmarks (bench/)"
	@echo "make format    clang-format every C++ file (tests/lint/format.sh checks it in make test)"
	@echo "make install   install binaries, man pages and systemd units (meson install)"
	@echo "make clean     remove the build directories"

deps:
	@./contrib/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	$(BUILD)/daemon/gafferd -v $(CONFIG)

test: build
	@./tests/run-tests.sh $(BUILD)

sanitize: deps
	@[ -f $(SANBUILD)/build.ninja ] || meson setup $(SANBUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug $(MESON_OPTS)
	ninja -C $(SANBUILD)
	@GAFFER_SANITIZED=1 TIMEOUT_MULTIPLIER=3 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ./tests/run-tests.sh $(SANBUILD)

fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/fuzz/build_fuzzers.sh build-fuzz

bench: build
	@./bench/run.sh $(BUILD)

install: build
	meson install -C $(BUILD)

format:
	git ls-files -- daemon ctl lib tests bench | grep -E '\.(cc|h)$$' | xargs -r clang-format -i

clean:
	rm -rf $(BUILD) $(SANBUILD) build-fuzz
