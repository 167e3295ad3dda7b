# The two commands of the README:
#   make run    install what is missing, build, and start sonic-server
#   make test   install what is missing, build, and run every test suite (also under ASan/UBSan)
# Everything else here is a shortcut for developers.

SHELL := /bin/bash
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

RUN_ARGS ?=

.PHONY: run test build build-asan test-release test-e2e test-asan test-fuzz fuzz test-one bench format clean

build:
	scripts/setup release

build-asan:
	scripts/setup asan

run: build
	scripts/run-demo $(RUN_ARGS)

test: build test-release test-e2e build-asan test-asan test-fuzz

test-release:
	ctest --preset release --output-on-failure -j2

# The web page in Debian's Chromium against the real binary (tests/e2e, playwright-core).
test-e2e:
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	cd tests/e2e && SONIC_BINARY=$(CURDIR)/build/release/sonic-server npm test

test-asan:
	ctest --preset asan --output-on-failure -j2 -LE slow

# Every fuzz/*_fuzz.cpp under libFuzzer + ASan/UBSan (clang; docs/fuzzing.md): 30 s each in
# `make test`, a few minutes each with `make fuzz`; any finding fails.
test-fuzz:
	scripts/fuzz 30 2

fuzz:
	scripts/fuzz $${FUZZ_SECONDS:-180} 2

# One suite alone, e.g. `make test-one T=media_probe_test`.
test-one: build
	ctest --preset release --output-on-failure -R '$(T)'

bench: build
	@for b in build/release/bench/*_bench; do echo "== $$b"; $$b; done

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf build
